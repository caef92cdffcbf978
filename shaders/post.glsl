#version 330 core
// Post: exposure flash on the beat, colour grade (contrast, saturation, tint), vignette.
// Not fed back: the feedback loop keeps the ungraded frame.
in vec2 v_uv;
out vec4 colour;

void main() {
    vec3 c = texture(u_image, v_uv).rgb;
    c *= exp2(u_flash * u_beat_pulse);                    // exposure, in stops
    c = (c - 0.5) * u_contrast + 0.5;
    float grey = dot(c, vec3(0.2126, 0.7152, 0.0722));    // Rec. 709 luma
    c = mix(vec3(grey), c, u_saturation) * u_tint;
    vec2 d = v_uv - 0.5;
    c *= 1.0 - u_vignette * smoothstep(0.2, 0.75, length(d) * 1.2);
    colour = vec4(clamp(c, 0.0, 1.0), 1.0);
}
