// The backend the app's components call (their `server`), answering what the app's server functions answer
// (explorer/web/views/map.py and codes.py: figure, thumbnail, decode) from the exported files, in the page.
import {dataUri, decodeGrid, decodeLatent, figureOf, latentOf, open, pixelsOfFloats, pixelsOfImage} from './models.js';
import {blend} from './latent_maths.js';

const filled = (mo, code) => Array.from({length: mo.side}, () => Array(mo.side).fill(code));

export const backend = {
  figure: (key) => figureOf(key),  // at once: the map is drawn while the model's other files load

  thumbnail: async ({key, index}) => {
    // a map point's image; on a codebook map, the decode of a grid made only of that code
    const mo = await open(key), i = Number(index);
    if (mo.e.kind === 'vae') return dataUri(pixelsOfImage(mo, i));
    return dataUri(pixelsOfFloats(mo, await decodeGrid(mo, filled(mo, i))));
  },

  decode: async (request) => {
    // {key, kind, index | x, y} (a map click), {checkpoint, latent} (a slider) or {checkpoint, grid} (a code grid)
    const mo = await open(request.checkpoint ?? request.key);
    if (request.grid) return pixelsOfFloats(mo, await decodeGrid(mo, request.grid));
    const z = request.latent ? request.latent
      : request.kind === 'point' ? latentOf(mo, Number(request.index)) : blend(mo, Number(request.x), Number(request.y));
    const p = pixelsOfFloats(mo, await decodeLatent(mo, z));
    // a model shipped with its preview decoder in place of its own (too large for a page) says so under each image
    return mo.e.preview ? {...p, caption: `${mo.e.preview} (the model's own decoder runs in the app)`} : p;
  },
};
