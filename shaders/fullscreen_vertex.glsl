#version 330 core
// One triangle that covers the whole target; no vertex buffer (the vertex id makes the corners).
// v_uv (0, 0) is the first pixel row in memory: the top-left of the image as numpy holds it.
out vec2 v_uv;

void main() {
    vec2 corner = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));  // (0,0) (2,0) (0,2)
    v_uv = corner;
    gl_Position = vec4(corner * 2.0 - 1.0, 0.0, 1.0);
}
