// The peer for `bench shaders --peer projectm`: one Milkdrop preset drawn by Debian's libprojectM 3.1
// offscreen, timed. Built and run by live/lab/peer_projectm.py (one process per preset, so a preset
// that crashes or hangs costs only itself). libprojectM 3.1 has a C++ API only, hence this file.
//
//   peer_projectm PCM.f32 PRESET.milk WIDTH HEIGHT FRAMES WARMUP FPS
//
// PCM.f32: interleaved stereo float32 at 44.1 kHz (the bench's audio); each frame gets the next
// 1/FPS s of it (looping), then renderFrame() draws into an RGBA8 framebuffer of WIDTH x HEIGHT that
// this program binds (projectM 3.1 never binds one itself). The clock runs from after WARMUP untimed
// frames and glFinish() to glFinish() after the last: PCM push (projectM's FFT and beat detection),
// the per-frame and per-vertex equations on the CPU, and the GL work. Prints one line:
//   fps=81.29 seconds=0.295 mean=53.9 status=ok
// mean: the mean of R, G, B (0..255) of the last frame; status ok, or black (mean < 1).

#include <EGL/egl.h>
#include <EGL/eglext.h>
#include <GL/gl.h>
#include <GL/glext.h>
#include <libprojectM/projectM.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static bool make_context() {
    // Mesa's surfaceless platform: no window, no X server; a 16x16 pbuffer where it is missing
    auto get_platform_display = (PFNEGLGETPLATFORMDISPLAYEXTPROC)eglGetProcAddress("eglGetPlatformDisplayEXT");
    EGLDisplay dpy = get_platform_display ? get_platform_display(EGL_PLATFORM_SURFACELESS_MESA, EGL_DEFAULT_DISPLAY, nullptr) : EGL_NO_DISPLAY;
    if (dpy == EGL_NO_DISPLAY) dpy = eglGetDisplay(EGL_DEFAULT_DISPLAY);
    if (dpy == EGL_NO_DISPLAY || !eglInitialize(dpy, nullptr, nullptr)) return false;
    const EGLint config_attribs[] = {EGL_SURFACE_TYPE, EGL_PBUFFER_BIT, EGL_RENDERABLE_TYPE, EGL_OPENGL_BIT,
                                     EGL_RED_SIZE, 8, EGL_GREEN_SIZE, 8, EGL_BLUE_SIZE, 8, EGL_NONE};
    EGLConfig config;
    EGLint n = 0;
    if (!eglChooseConfig(dpy, config_attribs, &config, 1, &n) || n < 1) return false;
    if (!eglBindAPI(EGL_OPENGL_API)) return false;
    const EGLint context_attribs[] = {EGL_CONTEXT_MAJOR_VERSION, 3, EGL_CONTEXT_MINOR_VERSION, 3,
                                      EGL_CONTEXT_OPENGL_PROFILE_MASK, EGL_CONTEXT_OPENGL_COMPATIBILITY_PROFILE_BIT, EGL_NONE};
    EGLContext ctx = eglCreateContext(dpy, config, EGL_NO_CONTEXT, context_attribs);
    if (ctx == EGL_NO_CONTEXT) return false;
    if (eglMakeCurrent(dpy, EGL_NO_SURFACE, EGL_NO_SURFACE, ctx)) return true;
    const EGLint pbuffer_attribs[] = {EGL_WIDTH, 16, EGL_HEIGHT, 16, EGL_NONE};
    EGLSurface surface = eglCreatePbufferSurface(dpy, config, pbuffer_attribs);
    return surface != EGL_NO_SURFACE && eglMakeCurrent(dpy, surface, surface, ctx);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        std::fprintf(stderr, "usage: %s PCM.f32 PRESET.milk WIDTH HEIGHT FRAMES WARMUP FPS\n", argv[0]);
        return 2;
    }
    const std::string pcm_path = argv[1], preset = argv[2];
    const int width = std::atoi(argv[3]), height = std::atoi(argv[4]), frames = std::atoi(argv[5]);
    const int warmup = std::atoi(argv[6]), fps = std::atoi(argv[7]);

    std::vector<float> pcm;  // interleaved L/R
    if (FILE *f = std::fopen(pcm_path.c_str(), "rb")) {
        float block[4096];
        size_t got;
        while ((got = std::fread(block, sizeof(float), 4096, f)) > 0) pcm.insert(pcm.end(), block, block + got);
        std::fclose(f);
    }
    if (pcm.size() < 2) {
        std::fprintf(stderr, "%s: no audio\n", pcm_path.c_str());
        return 2;
    }
    if (!make_context()) {
        std::printf("status=no_context\n");
        return 3;
    }
    auto gen_framebuffers = (PFNGLGENFRAMEBUFFERSPROC)eglGetProcAddress("glGenFramebuffers");
    auto bind_framebuffer = (PFNGLBINDFRAMEBUFFERPROC)eglGetProcAddress("glBindFramebuffer");
    auto framebuffer_texture = (PFNGLFRAMEBUFFERTEXTURE2DPROC)eglGetProcAddress("glFramebufferTexture2D");
    GLuint texture, fbo;
    glGenTextures(1, &texture);
    glBindTexture(GL_TEXTURE_2D, texture);
    glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA8, width, height, 0, GL_RGBA, GL_UNSIGNED_BYTE, nullptr);
    gen_framebuffers(1, &fbo);
    bind_framebuffer(GL_FRAMEBUFFER, fbo);
    framebuffer_texture(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_TEXTURE_2D, texture, 0);
    glViewport(0, 0, width, height);

    projectM::Settings settings;  // mesh 32x24 (its default), hard cuts off, one preset for the whole run
    settings.windowWidth = width;
    settings.windowHeight = height;
    settings.fps = fps;
    settings.presetURL = "/usr/share/projectM/presets";  // where presets find their textures
    settings.smoothPresetDuration = 1;
    settings.presetDuration = 100000;
    settings.hardcutEnabled = false;
    settings.shuffleEnabled = false;
    projectM pm(settings, projectM::FLAG_DISABLE_PLAYLIST_LOAD);
    pm.clearPlaylist();
    const unsigned index = pm.addPresetURL(preset, preset, RatingList(TOTAL_RATING_TYPES, 3));
    pm.selectPreset(index, true);
    pm.setPresetLock(true);

    const size_t per_frame = 44100 / fps;  // stereo samples each frame
    std::vector<float> chunk(2 * per_frame);
    size_t at = 0;
    auto one_frame = [&]() {
        for (size_t i = 0; i < 2 * per_frame; ++i) chunk[i] = pcm[(at + i) % pcm.size()];
        at = (at + 2 * per_frame) % pcm.size();
        pm.pcm()->addPCMfloat_2ch(chunk.data(), (int)chunk.size());
        bind_framebuffer(GL_FRAMEBUFFER, fbo);
        pm.renderFrame();
    };
    for (int k = 0; k < warmup; ++k) one_frame();
    glFinish();
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < frames; ++k) one_frame();
    glFinish();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::vector<unsigned char> pixels((size_t)width * height * 4);
    bind_framebuffer(GL_FRAMEBUFFER, fbo);
    glReadPixels(0, 0, width, height, GL_RGBA, GL_UNSIGNED_BYTE, pixels.data());
    double sum = 0;
    for (size_t i = 0; i < pixels.size(); i += 4) sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
    const double mean = sum / (3.0 * width * height);
    std::printf("fps=%.3f seconds=%.4f mean=%.2f status=%s\n", frames / seconds, seconds, mean, mean < 1.0 ? "black" : "ok");
    std::fflush(stdout);
    std::_Exit(0);  // projectM's teardown has crashed on some presets: the figures are out, skip it
}
