#ifndef DETECTOR_CFREETYPE_SHIM_H
#define DETECTOR_CFREETYPE_SHIM_H
// FreeType 2 (Debian's libfreetype-dev, 2.12 on Debian 12) rasterises the glyphs of the font
// files that Font.swift finds at run time. Its functions return error codes, never longjmp.
// The two macros below are function-like, which Swift does not import, hence the wrappers.
#include <ft2build.h>
#include FT_FREETYPE_H

/// Load flags for a glyph: hinted for a gray (anti-aliased) target and rendered to an 8-bit
/// coverage bitmap; embedded bitmaps are ignored (some CJK fonts carry 1-bit ones for small
/// sizes), so every glyph is anti-aliased alike.
static inline FT_Int32 detector_ft_load_flags(void) {
    return FT_LOAD_RENDER | FT_LOAD_NO_BITMAP | FT_LOAD_TARGET_NORMAL;
}

/// Whether the face has outlines that scale to any size (a bitmap-only face, such as a
/// colour-emoji font, has fixed sizes and is not used).
static inline int detector_ft_is_scalable(FT_Face face) { return FT_IS_SCALABLE(face) ? 1 : 0; }

#endif
