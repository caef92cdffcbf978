#version 330 core
// Feedback warp: the previous frame zoomed, rotated (warp_vertex.glsl), rippled and shifted about the
// centre, faded by u_decay, with the structure frame mixed in. post.glsl grades it, in a pass of its
// own (on Mesa's llvmpipe a second colour attachment here cost more than that pass).
in vec2 v_uv;
in vec2 v_from;
out vec4 colour;

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = v_from;
    if (u_pulse != 0.0) {  // the engine sends 0 when the ripple is below a hundredth of a pixel
        p *= 1.0 - u_pulse * sin(40.0 * length(p) - 6.28318 * u_beat_phase);  // ripple, strongest on the beat
    }
    vec2 uv = p / vec2(aspect, 1.0) + 0.5 - u_translate;
    vec3 previous = texture(u_prev, uv).rgb * u_decay;
    vec3 structure = texture(u_structure, v_uv).rgb;
    colour = vec4(mix(previous, structure, clamp(u_structure_mix, 0.0, 1.0)), 1.0);
}
