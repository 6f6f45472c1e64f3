// Segment metadata dynfield and the mbuf queues of a TCB.
#include "tcp/tcb.h"

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

namespace dpx::tcp {

int g_seg_meta_offset = -1;

bool RegisterSegMetaDynfield() {
  if (g_seg_meta_offset >= 0) return true;
  static const rte_mbuf_dynfield desc = {
      "dpx_tcp_seg_meta", sizeof(SegMeta), alignof(SegMeta), 0};
  g_seg_meta_offset = rte_mbuf_dynfield_register(&desc);
  return g_seg_meta_offset >= 0;
}

SegMeta* Seg(rte_mbuf* m) { return RTE_MBUF_DYNFIELD(m, g_seg_meta_offset, SegMeta*); }

void MbufQueue::PushBack(rte_mbuf* m) {
  Seg(m)->next = nullptr;
  if (tail) Seg(tail)->next = m;
  else head = m;
  tail = m;
}

void MbufQueue::PushFront(rte_mbuf* m) {
  Seg(m)->next = head;
  head = m;
  if (!tail) tail = m;
}

rte_mbuf* MbufQueue::PopFront() {
  rte_mbuf* m = head;
  if (!m) return nullptr;
  head = Seg(m)->next;
  if (!head) tail = nullptr;
  Seg(m)->next = nullptr;
  return m;
}

void MbufQueue::InsertAfter(rte_mbuf* pos, rte_mbuf* m) {
  if (!pos) {
    PushFront(m);
    return;
  }
  Seg(m)->next = Seg(pos)->next;
  Seg(pos)->next = m;
  if (tail == pos) tail = m;
}

void MbufQueue::Purge() {
  while (rte_mbuf* m = PopFront()) rte_pktmbuf_free(m);
}

}  // namespace dpx::tcp
