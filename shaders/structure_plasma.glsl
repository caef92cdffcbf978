#version 330 core
// Plasma: sums of sines in x, y, radius and angle (the demo-scene classic), each band moving its own
// term; u_count sets the spatial frequency, u_detail adds a finer layer.
//   drive (low-mid) -> the colours run     bass -> the radial term swells     beat -> a phase kick
in vec2 v_uv;
out vec4 colour;
const float STRUCTURE_SCALE = 0.35;  // smooth enough to draw at 0.35 of the size per side (live/draw/shaders.py)

vec3 palette(float t) {
    return 0.5 + 0.5 * cos(6.28318 * (t + u_hue + u_palette));
}

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0) * u_scale;
    float t = u_time * u_speed + 0.5 * u_beat_pulse + 10.0 * u_seed;
    float k = max(u_count, 1.0);
    float bass = max(u_bands[0], u_bands[1]);
    float v = sin(k * p.x + t);
    v += sin(k * (p.y * 0.8 + 0.3 * sin(t * 0.4)) + 1.3 * t);
    v += sin(k * 1.4 * length(p) * (1.0 + bass) - 2.0 * t);
    v += sin(k * (p.x + p.y) * 0.7 + u_bands[3] * 3.0);
    v += u_detail * sin(3.0 * k * length(p - vec2(0.2 * sin(t), 0.2 * cos(0.7 * t))) + t);
    vec3 col = palette(0.125 * v + 0.3 * u_drive + 0.02 * u_beat);
    col *= 0.35 + 0.65 * clamp(u_level + 0.4 * u_onset, 0.0, 1.0);
    colour = vec4(col, 1.0);
}
