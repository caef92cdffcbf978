#version 330 core
// Spectrum: the 32 log-spaced bins of u_spectrum as bars mirrored about the centre line (u_detail
// < 0.5) or as rays around a circle (u_detail >= 0.5); u_count splits each bar into blocks.
//   drive (bass) -> height gain     beat -> the bars' colour steps     onset -> the tops flare
in vec2 v_uv;
out vec4 colour;

vec3 palette(float t) {
    return 0.5 + 0.5 * cos(6.28318 * (t + u_hue + u_palette));
}

float bin_at(float x) {  // x in 0..1, low to high frequency
    int i = int(clamp(x, 0.0, 0.9999) * 32.0);
    return u_spectrum[i];
}

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float gain = u_scale * (0.8 + 0.8 * u_drive);
    float x, h, along;
    if (u_detail >= 0.5) {
        x = abs(atan(p.x, -p.y)) / 3.14159;                  // 0 at the top, 1 at the bottom, mirrored left/right
        h = length(p) - 0.12;
        along = 0.38;
    } else {
        x = abs(p.x) / (0.5 * aspect);                         // low frequencies in the middle
        h = abs(p.y);
        along = 0.45;
    }
    float v = pow(bin_at(x), 1.5) * gain * along;
    float cell = fract(x * 32.0);
    float bar = step(0.12, cell) * step(cell, 0.88) * step(0.0, h) * step(h, v);
    float blocks = step(0.25, fract(h / max(along, 1e-3) * max(u_count, 1.0)));
    float top = exp(-abs(h - v) * 60.0) * (0.4 + u_onset);
    vec3 col = palette(x * 0.6 + 0.25 * floor(u_beat)) * bar * mix(1.0, blocks, step(1.5, u_count));
    col += top * palette(0.5 + x) * step(0.12, cell) * step(cell, 0.88);
    col *= 0.5 + 0.5 * clamp(u_level + u_beat_pulse * 0.5, 0.0, 1.0);
    colour = vec4(col, 1.0);
}
