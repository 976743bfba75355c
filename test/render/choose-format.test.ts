import { describe, expect, test } from 'vitest';
import { chooseFormat } from '../../src/render/choose-format.js';

describe('chooseFormat', () => {
  test('a format field wins over any Accept header', () => {
    expect(chooseFormat('svg', 'image/png')).toBe('svg');
    expect(chooseFormat('jpeg', 'application/json')).toBe('jpeg');
    expect(chooseFormat('png', undefined)).toBe('png');
  });

  test.each([
    [undefined, 'png'],
    ['', 'png'],
    ['*/*', 'png'],
    ['image/*', 'png'],
    ['image/svg+xml', 'svg'],
    ['IMAGE/SVG+XML', 'svg'],
    ['image/jpeg', 'jpeg'],
    // Browsers' <img> header: svg is listed before image/*, equal q, so it is the client's first choice.
    ['image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'svg'],
    ['image/png;q=0.5, image/jpeg;q=0.9', 'jpeg'],
    ['image/jpeg, image/png', 'jpeg'],
    ['image/png;q=0, */*', 'jpeg'],
    ['image/*;q=0.1, image/svg+xml;q=0.5', 'svg'],
    ['*/*;q=0.9, image/png;q=0.2', 'jpeg'],
    ['text/html, application/xhtml+xml, image/png;q=0.3', 'png'],
  ] as const)('Accept %j chooses %s', (accept, format) => {
    expect(chooseFormat(undefined, accept)).toBe(format);
  });

  test.each([
    'application/json',
    'text/html, application/xml;q=0.9',
    'image/gif',
    'image/png;q=0, image/jpeg;q=0, image/svg+xml;q=0',
    'garbage',
  ])('Accept %j allows no picture', (accept) => {
    expect(chooseFormat(undefined, accept)).toBeNull();
  });
});
