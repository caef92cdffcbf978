#version 330 core
// Structure generator: a procedural image the features drive; mixed into the feedback (and, on the
// diffusion path, into the img2img init image) so the motion follows the music.
//   bass   -> radius and brightness of the rings      mid/high -> fine detail of the noise
//   onset  -> a burst of the rings outward            beat      -> the rings' phase steps on the beat
//   level  -> overall brightness                      seed      -> where in the noise field we are
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

float fbm(vec2 p, float detail) {
    float sum = 0.0, amp = 0.5;
    for (int octave = 0; octave < 5; octave++) {
        sum += amp * noise(p);
        p = mat2(1.6, 1.2, -1.2, 1.6) * p;
        amp *= 0.5 * (0.7 + 0.6 * detail);
    }
    return sum;
}

vec3 palette(float t) {  // cosine palette (Inigo Quilez): smooth hues
    return 0.5 + 0.5 * cos(6.28318 * (t + vec3(0.0, 0.33, 0.67)));
}

void main() {
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (v_uv - 0.5) * vec2(aspect, 1.0);
    float bass = max(u_bands[0], u_bands[1]);
    float high = 0.5 * (u_bands[4] + u_bands[5]);
    float detail = clamp(0.5 * (u_bands[3] + high), 0.0, 1.0);

    vec2 q = p * (2.0 + 2.0 * detail) + vec2(u_time * 0.05, u_seed * 10.0);
    vec2 warp = vec2(fbm(q + u_time * 0.1, detail), fbm(q + vec2(5.2, 1.3) - u_time * 0.08, detail));
    float field = fbm(q + 2.5 * warp, detail);

    float r = length(p);
    float beat = floor(u_time * u_tempo / 60.0) + u_beat_phase;  // steps once per beat
    float rings = 0.5 + 0.5 * sin(18.0 * r - 6.28318 * beat + 4.0 * field - 8.0 * u_onset);
    rings = pow(rings, 4.0 - 3.0 * bass);

    vec3 col = palette(field + 0.15 * u_time + 0.3 * u_bands[2]) * (0.25 + 0.75 * field);
    col += rings * palette(0.6 + r + u_onset) * (0.2 + 0.8 * bass);
    col *= 0.35 + 0.65 * clamp(u_level + 0.5 * u_onset, 0.0, 1.0);
    colour = vec4(col, 1.0);
}
