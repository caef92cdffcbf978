#version 330 core
// Feedback warp: the previous frame zoomed, rotated (warp_vertex.glsl), rippled and shifted about the
// centre, faded by u_decay, with the structure frame mixed in. Written twice: as it is (the feedback,
// attachment 0) and graded (grade.glsl: the finished frame, attachment 1 where the target has one),
// so the shader engine needs no post pass of its own.
in vec2 v_uv;
in vec2 v_from;
in vec2 v_centred;
layout(location = 0) out vec4 colour;
layout(location = 1) out vec4 graded;

#include "grade.glsl"

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = v_from;
    if (u_pulse != 0.0) {  // the engine sends 0 when the ripple is below a hundredth of a pixel
        p *= 1.0 - u_pulse * sin(40.0 * length(p) - 6.28318 * u_beat_phase);  // ripple, strongest on the beat
    }
    vec2 uv = p / vec2(aspect, 1.0) + 0.5 - u_translate;
    vec3 previous = texture(u_prev, uv).rgb * u_decay;
    vec3 structure = texture(u_structure, v_uv).rgb;
    vec3 c = mix(previous, structure, clamp(u_structure_mix, 0.0, 1.0));
    colour = vec4(c, 1.0);
    graded = vec4(grade(c, vignette_at(v_centred)), 1.0);
}
