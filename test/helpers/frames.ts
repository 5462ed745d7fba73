/** The frame builder lives in src/frame/build.ts (the generator uses it too). */
export * from '../../src/frame/build.js';
