// Entry point for the index-store test workers: worker_threads cannot load .ts files by themselves,
// so this registers tsx's loader and then imports `workerData.entry`.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
