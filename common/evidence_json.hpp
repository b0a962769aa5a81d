// JSON forms of the evidence records, shared by the control protocol and the report.
#pragma once

#include <boost/json.hpp>
#include <string>

#include "evidence.hpp"

namespace egress25 {

boost::json::object to_json(const CappedBytes& b);  // {"text": escaped?, "b64"...}
boost::json::object to_json(const Transcript& t);
boost::json::object to_json(const ConnectionRecord& r);
boost::json::object to_json(const ClientProbe& p);
boost::json::object to_json(const PathTrace& t);
boost::json::object to_json(const TraceHop& h);

// Strict readers: every field type-checked; on failure `error` names the field.
bool from_json(const boost::json::value& v, CappedBytes& out, std::string& error);
bool from_json(const boost::json::value& v, Transcript& out, std::string& error);
bool from_json(const boost::json::value& v, ConnectionRecord& out, std::string& error);

}  // namespace egress25
