import { MemoryRequester } from '@qchat/bus';
import { requesterContract } from '../../../tests/contract/requester.contract';

requesterContract('MemoryRequester', async () => {
  const requester = new MemoryRequester();
  return { requester, close: () => requester.close() };
});
