#version 330 core
// Tunnel: rings of a tube rushing towards the viewer, split into u_count segments around it.
//   drive (bass) -> speed and glow of the rush     beat  -> a bright ring leaves the centre each beat
//   onset        -> the segments sharpen            mid   -> the tube twists
in vec2 v_uv;
out vec4 colour;

vec3 palette(float t) {
    return 0.5 + 0.5 * cos(6.28318 * (t + u_hue + u_palette));
}

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float r = max(length(p), 1e-3);
    float a = atan(p.y, p.x) / 6.28318 + 0.5;               // 0..1 around
    float depth = 0.25 * u_scale / r;                         // distance down the tube
    float travel = u_time * u_speed * (0.6 + 1.2 * u_drive) + u_beat;
    float twist = a + 0.15 * depth * (0.3 + u_bands[3]) + 0.02 * u_seed;
    float stripes = 0.5 + 0.5 * sin(6.28318 * (4.0 * depth - travel));
    float segments = 0.5 + 0.5 * cos(6.28318 * twist * floor(max(u_count, 1.0)));
    float ring = exp(-60.0 * abs(r - (0.05 + 0.65 * u_beat_phase * u_beat_phase)));  // leaves the centre on the beat
    float v = pow(stripes, 3.0 - 2.0 * u_detail) * (0.35 + 0.65 * pow(segments, 2.0 + 6.0 * u_onset));
    vec3 col = palette(depth * 0.08 + 0.2 * u_bands[2] + 0.05 * u_beat) * v;
    col += ring * palette(0.5 + a) * (0.3 + 0.7 * u_beat_pulse);
    col *= 1.6 * smoothstep(0.0, 0.2, r) * (0.5 + 0.5 * clamp(u_level + u_drive, 0.0, 1.0));  // the far end is dark
    colour = vec4(col, 1.0);
}
