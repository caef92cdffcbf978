"""Pictures out: GL contexts and programs (gl), the shader engine and its looks (shaders), the window
and HUD (display), and MP4 writing (video). Reads only the `Drive` record of the analysis; never
torch, models or audio."""
