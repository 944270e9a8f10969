import { MemoryHistoryStore } from '../src/store';
import { historyStoreContract } from '../../../tests/contract/history-store.contract';

historyStoreContract('memory', async () => ({ store: new MemoryHistoryStore(), close: async () => undefined }));
