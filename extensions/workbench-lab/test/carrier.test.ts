// A redrawn dashboard (a note added) keeps the BokehJS carrier of the output it replaces: `npm test`.
import { keepCarrier } from '../src/carrier';

const carrier = '<script type="application/gzip;base64" class="fmwb-bokehjs" data-version="3.9.2">H4sIAA==</script>';
const output = (inner: string) => `<div class="fm-workbench-output"><style>x</style>${inner}<iframe></iframe></div>`;

describe('keepCarrier', () => {
  it('moves the carrier into a redrawn output that lacks it', () => {
    const redrawn = keepCarrier(output(carrier), output(''));
    expect(redrawn).toBe(`<div class="fm-workbench-output">${carrier}<style>x</style><iframe></iframe></div>`);
  });

  it('leaves an output alone when the old one had no carrier, or the new one has its own', () => {
    expect(keepCarrier(output(''), output(''))).toBe(output(''));
    expect(keepCarrier(output(carrier), output(carrier))).toBe(output(carrier));
  });

  it('leaves HTML that is not a dashboard output alone', () => {
    expect(keepCarrier(output(carrier), '<p>other</p>')).toBe('<p>other</p>');
  });
});
