// Matching the packet witness's flows to one probe of one client session.
#include "witness_match.hpp"

namespace egress25 {

WitnessPortView match_witness(const std::vector<control::WitnessFlow>& flows,
                              const WitnessQuery& query) {
  WitnessPortView view;
  std::int64_t first_syn_ms = 0;
  for (const auto& flow : flows) {
    if (flow.family != query.family || flow.destination_port != query.port) continue;
    if (query.public_address.empty() || flow.source_address != query.public_address) continue;
    if (query.window_start_unix_ms != 0 && flow.first_seen_unix_ms < query.window_start_unix_ms)
      continue;
    if (query.window_end_unix_ms != 0 && flow.first_seen_unix_ms > query.window_end_unix_ms)
      continue;
    view.syn_seen = view.syn_seen || flow.syn_seen;
    view.synack_sent = view.synack_sent || flow.synack_sent;
    view.rst_sent = view.rst_sent || flow.rst_sent;
    view.handshake_completed = view.handshake_completed || flow.handshake_completed;
    view.syn_count += flow.syn_count;
    if (flow.syn_seen && (first_syn_ms == 0 || flow.first_seen_unix_ms < first_syn_ms)) {
      first_syn_ms = flow.first_seen_unix_ms;
      view.ttl = flow.ttl;
    }
  }
  return view;
}

}  // namespace egress25
