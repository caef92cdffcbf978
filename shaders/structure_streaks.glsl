#version 330 core
// Streaks: a flow field drawn as thin bright lines along the contours of a moving noise; the
// feedback warp drags them into trails. u_count lines per unit, u_detail their sharpness.
//   drive (high) -> the field flows faster     bass -> lines thicken     onset -> a burst of light
in vec2 v_uv;
out vec4 colour;

float hash(vec2 p) {
    return fract(sin(dot(p, vec2(127.1, 311.7)) + u_seed * 91.7) * 43758.5453);
}

float noise(vec2 p) {
    vec2 i = floor(p), f = fract(p);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(hash(i), hash(i + vec2(1, 0)), u.x), mix(hash(i + vec2(0, 1)), hash(i + vec2(1, 1)), u.x), u.y);
}

vec3 palette(float t) {
    return 0.5 + 0.5 * cos(6.28318 * (t + u_hue + u_palette));
}

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0) * 3.0 * u_scale;
    float t = u_time * u_speed * (0.3 + 0.9 * u_drive);
    vec2 flow = vec2(noise(p + vec2(0.0, t)), noise(p + vec2(5.2, -t)));
    float field = noise(p + 1.5 * flow + 0.2 * u_beat) + 0.5 * noise(2.0 * p - flow);
    float bass = max(u_bands[0], u_bands[1]);
    float lines = abs(fract(field * max(u_count, 1.0)) - 0.5) * 2.0;   // 0 on a line
    float width = mix(0.25, 0.04, u_detail) * (1.0 + 1.5 * bass);
    float line = smoothstep(width, 0.0, lines);
    vec3 col = palette(field * 0.5 + 0.3 * u_bands[4] + 0.03 * u_beat) * line;
    col *= 0.3 + 0.7 * clamp(u_level + 0.8 * u_onset, 0.0, 1.0);
    col += 0.25 * u_onset * line;
    colour = vec4(col, 1.0);
}
