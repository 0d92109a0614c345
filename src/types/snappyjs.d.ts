/** snappyjs ships no types: the two functions used, on Uint8Array (a Buffer is one). */
declare module 'snappyjs' {
  const snappy: {
    /** Snappy's block format (not the framed one), as remote write wants it. */
    compress(input: Uint8Array): Uint8Array;
    uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
  };
  export = snappy;
}
