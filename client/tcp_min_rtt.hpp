// The kernel's smallest round trip on a TCP socket (TCP_INFO tcpi_min_rtt).
#pragma once

namespace egress25::client {

// Milliseconds; 0 when the kernel cannot say (not measured yet, an old kernel, not TCP).
double tcp_min_rtt_ms(int fd);

}  // namespace egress25::client
