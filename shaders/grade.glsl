// The colour grade, shared (an include line) by post.glsl and by the engine's warp pass, which
// grades the frame it feeds back in the same pass: exposure flash on the beat, contrast,
// saturation, tint, vignette. No #version: it is pasted into the files that include it.

float vignette_at(vec2 centred) {  // the corners' gain, 1 in the middle; `centred` = uv - 0.5
    return 1.0 - u_vignette * smoothstep(0.2, 0.75, length(centred) * 1.2);
}

vec3 grade(vec3 c, float vignette_gain) {
    c *= exp2(u_flash * u_beat_pulse);                    // exposure, in stops
    c = (c - 0.5) * u_contrast + 0.5;
    float grey = dot(c, vec3(0.2126, 0.7152, 0.0722));    // Rec. 709 luma
    c = mix(vec3(grey), c, u_saturation) * u_tint;
    return clamp(c * vignette_gain, 0.0, 1.0);
}
