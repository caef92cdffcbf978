#version 330 core
// Cells (Voronoi): u_count x u_count jittered seeds per screen height, drifting; cells shaded by
// distance, edges lit. u_detail sharpens the edges.
//   drive (bass) -> the seeds jump     onset -> the edges flash     beat -> the cells' colours step
in vec2 v_uv;
out vec4 colour;

vec2 hash2(vec2 p) {
    p = vec2(dot(p, vec2(127.1, 311.7)), dot(p, vec2(269.5, 183.3)));
    return fract(sin(p + u_seed * 17.0) * 43758.5453);
}

vec3 palette(float t) {
    return 0.5 + 0.5 * cos(6.28318 * (t + u_hue + u_palette));
}

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0) * max(u_count, 1.0) * u_scale;
    vec2 cell = floor(p), f = fract(p);
    float d1 = 8.0, d2 = 8.0;
    vec2 nearest = vec2(0.0);
    for (int j = -1; j <= 1; j++) {
        for (int i = -1; i <= 1; i++) {
            vec2 g = vec2(float(i), float(j));
            vec2 h = hash2(cell + g);
            vec2 o = 0.5 + 0.45 * sin(u_time * u_speed * 0.8 + 6.28318 * h + 1.5 * u_drive * h.yx);
            float d = length(g + o - f);
            if (d < d1) {
                d2 = d1;
                d1 = d;
                nearest = cell + g;
            } else if (d < d2) {
                d2 = d;
            }
        }
    }
    float edge = smoothstep(mix(0.15, 0.02, u_detail), 0.0, d2 - d1);
    float id = hash2(nearest).x;
    vec3 col = palette(id + 0.125 * floor(u_beat)) * (0.15 + 0.6 * (1.0 - d1)) * (0.4 + 0.6 * u_level);
    col += edge * palette(0.5 + id) * (0.3 + 1.2 * u_onset);
    colour = vec4(col, 1.0);
}
