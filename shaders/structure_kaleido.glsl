#version 330 core
// Kaleidoscope: a noise field folded into u_count mirrored wedges that turn with the beat.
//   drive (mid) -> the turn        bass  -> the field swells        onset -> the petals sharpen
in vec2 v_uv;
out vec4 colour;
const float STRUCTURE_SCALE = 0.35;  // smooth enough to draw at 0.35 of the size per side (live/draw/shaders.py)

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
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float n = floor(max(u_count, 2.0));
    float wedge = 6.28318 / n;
    float a = atan(p.y, p.x) + 0.25 * u_beat + 0.1 * u_time * u_speed * (1.0 + 2.0 * u_drive);
    a = mod(a, wedge);
    a = min(a, wedge - a);                                    // mirror inside the wedge
    float r = length(p);
    vec2 q = vec2(cos(a), sin(a)) * r * 6.0 * u_scale;
    float bass = max(u_bands[0], u_bands[1]);
    float f = noise(q + vec2(u_time * 0.3 * u_speed, 0.0)) * 0.6 + noise(2.3 * q - u_time * 0.2) * 0.4 * (0.5 + u_detail);
    float petals = pow(0.5 + 0.5 * sin(12.0 * f + 8.0 * r * (1.0 + bass) - 3.0 * u_beat_phase), 2.0 + 6.0 * u_onset);
    vec3 col = palette(f + r * 0.7 + 0.1 * u_beat) * (0.2 + 0.8 * petals);
    col *= 0.4 + 0.6 * clamp(u_level + 0.5 * bass, 0.0, 1.0);
    colour = vec4(col, 1.0);
}
