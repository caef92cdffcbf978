#version 330 core
// The feedback warp's affine part (zoom, rotation), evaluated at the fullscreen triangle's corners
// and interpolated: exact, since an affine map interpolates linearly, and no per-pixel matrix. The
// ripple, which is not affine, stays per pixel (warp.glsl). Zoom > 1 moves content outward.
// v_uv (0, 0) is the first pixel row in memory: the top-left of the image as numpy holds it.
out vec2 v_uv;
out vec2 v_from;     // where this point came from, about the centre, in square units (before the ripple)

void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));  // (0,0) (2,0) (0,2)
    float aspect = u_resolution.x / max(u_resolution.y, 1.0);
    vec2 p = (corner - 0.5) * vec2(aspect, 1.0);  // square pixels about the centre
    float c = cos(u_rotate), s = sin(u_rotate);
    v_from = mat2(c, s, -s, c) * p / max(u_zoom, 1e-3);  // inverse of the motion
    v_uv = corner;
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
