// The ports' functions and constants called one by one from Python (test_tablet_ops.py, _cam.py,
// _constants.py): arrays travel as base64 ({__f32} float32, {__u8} uint8, as the tests' f32() and u8()
// write them) and typed arrays come back as plain arrays, at any depth of the answer.
const { pixels } = await import(new URL('harness.js', location.href).href);

const decode = (a) => (a && a.__f32 !== undefined ? new Float32Array(pixels(a.__f32).buffer)
  : a && a.__u8 !== undefined ? pixels(a.__u8) : a);

const encode = (o) => (ArrayBuffer.isView(o) ? Array.from(o) : Array.isArray(o) ? o.map(encode)
  : typeof o === 'function' ? null  // a constant's method (a measure's raw, bound): not data
    : (o && typeof o === 'object') ? Object.fromEntries(Object.entries(o).map(([k, v]) => [k, encode(v)])) : o);

// `name` of core/`module`.js: a function is called with `args`, a constant read
export async function call(module, name, args = []) {
  const v = (await import(new URL(`core/${module}.js`, location.href).href))[name];
  return encode(typeof v === 'function' ? await v(...args.map(decode)) : v);
}
