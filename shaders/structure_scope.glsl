#version 330 core
// Oscilloscope: the waveform itself (u_wave: the newest 64 ms) as glowing traces, u_count of them
// stacked and fanned; u_detail > 0.5 wraps the trace into a circle.
//   drive (level) -> the trace's gain and glow      beat -> the traces fan out      onset -> they flare
in vec2 v_uv;
out vec4 colour;
const float STRUCTURE_SCALE = 0.35;  // smooth enough to draw at 0.35 of the size per side (live/draw/shaders.py)

vec3 palette(float t) {
    return 0.5 + 0.5 * cos(6.28318 * (t + u_hue + u_palette));
}

float wave_at(float x) {  // x in 0..1 across the trace, linear between the 128 points
    float i = clamp(x, 0.0, 1.0) * 127.0;
    int a = int(floor(i));
    int b = min(a + 1, 127);
    return mix(u_wave[a], u_wave[b], fract(i));
}

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float gain = 0.6 * u_scale * (1.0 + 2.0 * u_drive);
    float n = floor(clamp(u_count, 1.0, 8.0));
    vec3 col = vec3(0.0);
    for (int k = 0; k < 8; k++) {
        if (float(k) >= n) break;
        float offset = (float(k) - 0.5 * (n - 1.0)) * (0.08 + 0.12 * u_beat_pulse);
        float d;
        if (u_detail > 0.5) {  // circular scope: the trace wraps around a ring
            float a = atan(p.y, p.x) / 6.28318 + 0.5;
            float r = length(p) - (0.28 + offset) - 0.12 * gain * wave_at(fract(a + 0.1 * float(k)));
            d = abs(r);
        } else {
            float x = clamp((p.x / aspect) + 0.5, 0.0, 1.0);
            d = abs(p.y - offset - 0.35 * gain * wave_at(0.3 * x + 0.2 * float(k)));
        }
        float glow = smoothstep(0.02, 0.0, d) + 0.004 / (d + 0.004) * (0.25 + 0.5 * u_onset);  // the trace, and its halo
        col += glow * palette(0.15 * float(k) + 0.05 * u_beat + 0.2 * u_level);
    }
    colour = vec4(clamp(col, 0.0, 4.0) * (0.6 + 0.4 * u_level), 1.0);
}
