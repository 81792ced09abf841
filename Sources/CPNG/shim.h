#ifndef DETECTOR_CPNG_SHIM_H
#define DETECTOR_CPNG_SHIM_H
// libpng's simplified API (png_image_*) reports errors as return codes and a message, never
// as a longjmp, which Swift could not catch; PNG.swift uses it for almost every file.
//
// Its one exception lives here: libpng 1.6.39 as patched by Debian (CVE-2025-65018's fix,
// png_image_read_direct_scaled) decodes Adam7-interlaced 16-bit files to wrong pixels when
// reducing them to 8 bits (libpng issue #853: each pass is read into a row buffer that
// holds the previous row of the same pass instead of the earlier passes' pixels). Those
// files are read here with the classic row API, whose errors are a longjmp: the setjmp and
// every libpng call between it and png_destroy_read_struct stay in this one C function, so
// a longjmp never crosses a Swift frame. A systemLibrary target holds no .c files, hence
// static inline functions in the header.
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

/// The file's bytes in memory, how far libpng has read, and the error message (the same
/// size as png_image's message).
typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
    char message[64];
} detector_png_reader;

static inline void detector_png_read_data(png_structp png, png_bytep out, size_t count) {
    detector_png_reader *reader = (detector_png_reader *)png_get_io_ptr(png);
    if (count > reader->size - reader->offset) png_error(png, "read beyond end of data");
    memcpy(out, reader->data + reader->offset, count);
    reader->offset += count;
}

static inline void detector_png_error(png_structp png, png_const_charp message) {
    detector_png_reader *reader = (detector_png_reader *)png_get_error_ptr(png);
    snprintf(reader->message, sizeof reader->message, "%s", message);
    png_longjmp(png, 1);
}

/// Warnings are dropped, as the simplified API's png_safe_warning drops them (it keeps one
/// in png_image.message, which PNG.swift reads only after a failure).
static inline void detector_png_warning(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/// Decodes the whole file into `pixels` (`height` rows of `width` x `channels` bytes,
/// `channels` 3 for RGB or 4 for RGBA) with exactly the transforms that the simplified API's
/// png_image_read_direct sets for 8-bit RGB(A) output with PNG_IMAGE_FLAG_16BIT_sRGB (libpng
/// 1.6.39 pngread.c): expand (palette, low bit depths, tRNS to alpha), gray to RGB, the file
/// gamma defaulting to sRGB, 16-bit samples scaled to 8 (png_set_scale_16), the output
/// gamma sRGB, alpha left unassociated, the same ancillary chunks skipped; then
/// png_set_interlace_handling, which the row API implements correctly. Like
/// png_image_finish_read, it stops after the last row (chunks after the image data are not
/// read). `width`, `height` and `channels` are what png_image_begin_read reported for the
/// same bytes; a mismatch is an error. Returns 1, or 0 with `reader->message` set.
static inline int detector_png_read_rgb8(detector_png_reader *reader, unsigned char *pixels,
                                         png_uint_32 width, png_uint_32 height, int channels) {
    static const png_byte chunks_to_process[] = {
        98, 75, 71, 68, '\0',   /* bKGD */
        99, 72, 82, 77, '\0',   /* cHRM */
        103, 65, 77, 65, '\0',  /* gAMA */
        105, 67, 67, 80, '\0',  /* iCCP */
        115, 66, 73, 84, '\0',  /* sBIT */
        115, 82, 71, 66, '\0',  /* sRGB */
    };
    reader->message[0] = '\0';
    reader->offset = 0;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, reader, detector_png_error,
                                             detector_png_warning);
    if (png == NULL) {
        snprintf(reader->message, sizeof reader->message, "out of memory");
        return 0;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(reader->message, sizeof reader->message, "out of memory");
        return 0;
    }
    // `png` and `info` are not modified after this point, so they are still valid after a
    // longjmp back here (C11 7.13.2.1).
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }
    png_set_read_fn(png, reader, detector_png_read_data);
    png_set_benign_errors(png, 1);
    png_read_info(png, info);
    if (png_get_image_width(png, info) != width || png_get_image_height(png, info) != height)
        png_error(png, "image size differs from the first read");
    png_set_expand(png);
    if ((png_get_color_type(png, info) & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(png);
    png_set_alpha_mode_fixed(png, PNG_ALPHA_PNG, PNG_DEFAULT_sRGB);  // default file gamma
    png_set_scale_16(png);
    png_set_alpha_mode_fixed(png, PNG_ALPHA_PNG, PNG_DEFAULT_sRGB);  // output gamma
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_AS_DEFAULT, chunks_to_process,
                                (int)(sizeof chunks_to_process / 5));
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t row_bytes = (size_t)width * (size_t)channels;
    if (png_get_bit_depth(png, info) != 8 || png_get_channels(png, info) != channels ||
        png_get_rowbytes(png, info) != row_bytes)
        png_error(png, "unexpected pixel format after the transforms");
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < height; y++) png_read_row(png, pixels + (size_t)y * row_bytes, NULL);
    }
    png_destroy_read_struct(&png, &info, NULL);
    return 1;
}

#endif
