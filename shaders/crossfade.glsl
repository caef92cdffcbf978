#version 330 core
// Display-rate crossfade between the last two generator frames: the window runs at display rate
// while the generator runs slower. u_mix = time since frame a / time between a and b.
in vec2 v_uv;
out vec4 colour;

void main() {
    colour = vec4(mix(texture(u_a, v_uv).rgb, texture(u_b, v_uv).rgb, clamp(u_mix, 0.0, 1.0)), 1.0);
}
