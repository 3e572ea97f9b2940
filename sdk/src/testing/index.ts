export * from './fakeProvider.js';
