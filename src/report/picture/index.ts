/** The evidence picture: SVG, PNG, and the files `--svg` / `--png` write. */
export { renderPictureSvg, PICTURE_WIDTH, type PictureOptions } from './render.js';
export { svgToPng, pngSize, type PngOptions } from './png.js';
export { writePictures, writeNewFile, PictureFileError, type PictureFiles } from './write.js';
