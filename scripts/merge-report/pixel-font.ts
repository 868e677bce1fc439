// A 3 × 5 pixel font (capitals, digits, a little punctuation) for chart labels, so the report draws
// its PNGs with pngjs alone. Lower case is drawn as upper case; unknown characters as blanks.

export const GLYPH_WIDTH = 3;
export const GLYPH_HEIGHT = 5;

// each glyph: 5 rows of 3 columns, '#' = ink
const GLYPHS: Readonly<Record<string, string>> = {
  '0': '### #-# #-# #-# ###',
  '1': '-#- ##- -#- -#- ###',
  '2': '### --# ### #-- ###',
  '3': '### --# -## --# ###',
  '4': '#-# #-# ### --# --#',
  '5': '### #-- ### --# ###',
  '6': '### #-- ### #-# ###',
  '7': '### --# -#- -#- -#-',
  '8': '### #-# ### #-# ###',
  '9': '### #-# ### --# ###',
  A: '-#- #-# ### #-# #-#',
  B: '##- #-# ##- #-# ##-',
  C: '-## #-- #-- #-- -##',
  D: '##- #-# #-# #-# ##-',
  E: '### #-- ##- #-- ###',
  F: '### #-- ##- #-- #--',
  G: '-## #-- #-# #-# -##',
  H: '#-# #-# ### #-# #-#',
  I: '### -#- -#- -#- ###',
  J: '--# --# --# #-# -#-',
  K: '#-# #-# ##- #-# #-#',
  L: '#-- #-- #-- #-- ###',
  M: '#-# ### ### #-# #-#',
  N: '#-# ### ### ### #-#',
  O: '-#- #-# #-# #-# -#-',
  P: '##- #-# ##- #-- #--',
  Q: '-#- #-# #-# ### -##',
  R: '##- #-# ##- #-# #-#',
  S: '-## #-- -#- --# ##-',
  T: '### -#- -#- -#- -#-',
  U: '#-# #-# #-# #-# ###',
  V: '#-# #-# #-# #-# -#-',
  W: '#-# #-# ### ### #-#',
  X: '#-# #-# -#- #-# #-#',
  Y: '#-# #-# -#- -#- -#-',
  Z: '### --# -#- #-- ###',
  '.': '--- --- --- --- -#-',
  ',': '--- --- --- -#- #--',
  '-': '--- --- ### --- ---',
  '+': '--- -#- ### -#- ---',
  ':': '--- -#- --- -#- ---',
  '/': '--# --# -#- #-- #--',
  '(': '-#- #-- #-- #-- -#-',
  ')': '-#- --# --# --# -#-',
  '=': '--- ### --- ### ---',
  '%': '#-# --# -#- #-- #-#',
  ' ': '--- --- --- --- ---',
};

/** Whether glyph pixel (x, y) of a character is ink. */
export function glyphPixel(char: string, x: number, y: number): boolean {
  const rows = GLYPHS[char.toUpperCase()];
  if (!rows) return false;
  return rows[y * (GLYPH_WIDTH + 1) + x] === '#';
}

/** Width in pixels of a text at a scale (one blank column between characters). */
export function textWidth(text: string, scale: number): number {
  return text.length === 0 ? 0 : (text.length * (GLYPH_WIDTH + 1) - 1) * scale;
}
