#version 330 core
// Post: exposure flash on the beat, colour grade (contrast, saturation, tint), vignette (grade.glsl).
// Not fed back: the feedback loop keeps the ungraded frame. The shader engine grades inside its
// warp pass (warp.glsl, the same grade.glsl); this file finishes frames handed in (diffusion).
in vec2 v_uv;
out vec4 colour;

#include "grade.glsl"

void main() {
    vec3 c = texture(u_image, v_uv).rgb;
    colour = vec4(grade(c, vignette_at(v_uv - 0.5)), 1.0);
}
