import { MemoryBroker, MemoryRequester } from '@qchat/bus';
import { brokerContract } from '../../../tests/contract/broker.contract';
import { requesterContract } from '../../../tests/contract/requester.contract';

brokerContract('MemoryBroker', async () => {
  const broker = new MemoryBroker();
  return { broker, close: () => broker.close() };
});

requesterContract('MemoryRequester', async () => {
  const requester = new MemoryRequester();
  return { requester, close: () => requester.close() };
});
