#version 330 core
// Feedback warp: the previous frame zoomed, rotated, shifted and rippled about the centre, then the
// structure frame mixed in. Zoom > 1 moves content outward (we sample closer to the centre).
in vec2 v_uv;
out vec4 colour;

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);  // square pixels about the centre
    float c = cos(u_rotate), s = sin(u_rotate);
    p = mat2(c, s, -s, c) * p / max(u_zoom, 1e-3);  // inverse of the motion: where this pixel came from
    float r = length(p);
    p *= 1.0 - u_pulse * sin(40.0 * r - 6.28318 * u_beat_phase);  // ripple, strongest on the beat
    vec2 uv = p / vec2(aspect, 1.0) + 0.5 - u_translate;
    vec3 previous = texture(u_prev, uv).rgb * u_decay;
    vec3 structure = texture(u_structure, v_uv).rgb;
    colour = vec4(mix(previous, structure, clamp(u_structure_mix, 0.0, 1.0)), 1.0);
}
