#include "tracemark/serving/openai_prober.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <ctime>
#include <fstream>
#include <httplib.h>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unistd.h>
#include <vector>

#include "tracemark/error.hpp"
#include "tracemark/json_input.hpp"
#include "tracemark/serving/line_appender.hpp"
#include "tracemark/text_lines.hpp"
#include "tracemark/verify/jsonl_reader.hpp"
#include "tracemark/verify/prompt_records.hpp"

namespace tracemark::serving {
namespace {

using OrderedJson = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct Endpoint {
  std::string origin;     // scheme://host:port, what httplib::Client takes
  std::string base_path;  // for example /v1
};

Endpoint parse_endpoint(const std::string& url) {
  const auto fail = [&](const std::string& why) -> Endpoint {
    throw Error(ErrorCode::invalid_argument, "--endpoint " + url + ": " + why +
                                                 "; give a base URL such as http://127.0.0.1:8080/v1 or https://api.openai.com/v1");
  };
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return fail("no scheme");
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return fail("the scheme must be http or https");
  const std::size_t host_start = scheme_end + 3;
  const std::size_t path_start = std::min(url.find('/', host_start), url.size());
  const std::string authority = url.substr(host_start, path_start - host_start);
  if (authority.empty() || authority.find('@') != std::string::npos) return fail("no host (or credentials in the URL)");
  std::string host = authority;
  std::string port = scheme == "https" ? "443" : "80";
  const std::size_t bracket = authority.find(']');
  const std::size_t colon = authority.rfind(':');
  if (colon != std::string::npos && (bracket == std::string::npos || colon > bracket)) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(port) < 1 || std::stoi(port) > 65535) {
      return fail("the port is not a number from 1 to 65535");
    }
  }
  std::string path = url.substr(path_start);
  if (path.find_first_of("?#") != std::string::npos) return fail("a query or fragment is not allowed");
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (path.empty()) path = "/v1";
  return {scheme + "://" + host + ":" + port, path};
}

struct PromptRecord {
  OrderedJson id;
  OrderedJson prompt;         // what the request sends: text, the messages array, or token ids
  OrderedJson prompt_tokens;  // the ids when the prompt was ids (recorded as such), else null
};

// The prompts in read_prompt_file's formats, as this endpoint takes them: a chat sends text as one
// user message and messages as they are; completions send text, or ids (which OpenAI's
// completions endpoint accepts as a prompt).
std::vector<PromptRecord> read_prompts(const std::string& path, bool chat) {
  std::vector<PromptRecord> prompts;
  for (const Prompt& prompt : read_prompt_file(path)) {
    PromptRecord record;
    record.id = OrderedJson(prompt.id);
    const std::string where = path + " line " + std::to_string(prompt.line);
    if (prompt.text || (chat && prompt.messages)) {
      record.prompt = OrderedJson(prompt.text_or_messages());
    } else if (!chat && prompt.tokens) {
      record.prompt = *prompt.tokens;
      record.prompt_tokens = *prompt.tokens;
    } else if (chat) {
      throw Error(ErrorCode::invalid_input, where + ": a chat sends \"prompt\" text or \"messages\", and this prompt has "
                                                    "only token ids; give its text, or ask with --completions");
    } else {
      throw Error(ErrorCode::invalid_input, where + ": --completions sends text (or token ids), and this prompt is chat "
                                                    "messages; ask with --chat");
    }
    prompts.push_back(std::move(record));
  }
  return prompts;
}

// Reads the ids already answered in the output file. A last line without its newline (a run that
// crashed mid-write) is cut off the file; damage anywhere else is an error.
std::set<std::string> answered_ids(const std::string& path, bool& dropped_torn_line, std::ostream& log) {
  std::set<std::string> ids;
  std::error_code ignored;
  if (!std::filesystem::is_regular_file(path, ignored)) return ids;  // no output yet, or a device or pipe
  std::ifstream file(path, std::ios::binary);
  if (!file) return ids;
  LineReader lines(file, path);
  TextLine line;
  while (lines.next(line)) {
    if (!line.terminated) {
      file.close();
      if (::truncate(path.c_str(), static_cast<off_t>(line.position.byte_offset)) != 0) {
        throw Error(ErrorCode::io, "cannot cut the torn last line off " + path + ": " + std::strerror(errno));
      }
      log << "probe: dropped the torn last line of " << path << " (line " << line.position.line << ", byte offset "
          << line.position.byte_offset << ", " << line.text.size()
          << " bytes) left by an interrupted run; that prompt is asked again\n";
      dropped_torn_line = true;
      break;
    }
    if (line.text.empty()) continue;
    JsonProblem problem;
    std::optional<nlohmann::json> parsed = try_parse_json(line.text, problem);
    if (!parsed) {
      throw Error(ErrorCode::invalid_input, lines.where(line.position, problem.offset) +
                                                ": not valid JSON, and not the last line; the output is damaged: "
                                                "repair or remove that line, or write to a new --out");
    }
    const nlohmann::json& value = *parsed;
    if (!value.is_object() || !value.contains("id")) {
      throw Error(ErrorCode::invalid_input,
                  lines.where(line.position) + ": a record without \"id\"; is --out another tool's file?");
    }
    ids.insert(OrderedJson(value["id"]).dump());
  }
  return ids;
}

std::string scrub(std::string text, const std::string& secret) {
  if (!secret.empty()) {
    for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "[api key]");
    }
  }
  if (text.size() > 400) text = text.substr(0, 400) + "...";
  return text;
}

// The message of an OpenAI error body, else the start of the body.
std::string error_message(const std::string& body) {
  JsonProblem problem;
  const std::optional<nlohmann::json> value = try_parse_json(body, problem);
  if (value && value->is_object() && value->contains("error") && (*value)["error"].is_object() &&
      (*value)["error"].contains("message") && (*value)["error"]["message"].is_string()) {
    return (*value)["error"]["message"].get<std::string>();
  }
  return body;
}

class RateLimiter {
 public:
  explicit RateLimiter(double rate) : interval_(rate > 0 ? std::chrono::duration<double>(1.0 / rate) : std::chrono::duration<double>(0)) {}
  void acquire() {
    if (interval_.count() == 0) return;
    Clock::time_point slot;
    {
      const std::lock_guard lock(mutex_);
      const auto now = Clock::now();
      slot = std::max(now, next_);
      next_ = slot + std::chrono::duration_cast<Clock::duration>(interval_);
    }
    std::this_thread::sleep_until(slot);
  }

 private:
  std::chrono::duration<double> interval_;
  std::mutex mutex_;
  Clock::time_point next_{};
};

}  // namespace

std::optional<double> parse_retry_after(const std::string& value, std::int64_t now_unix) {
  std::string text = value;
  while (!text.empty() && text.front() == ' ') text.erase(text.begin());
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    char* end = nullptr;
    const double seconds = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(seconds)) return std::nullopt;
    return seconds;
  }
  std::tm date{};  // IMF-fixdate, RFC 9110 section 5.6.7: Sun, 06 Nov 1994 08:49:37 GMT
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &date);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return std::max(0.0, static_cast<double>(::timegm(&date) - now_unix));
}

ProbeSummary run_probe(const ProbeOptions& options, const std::string& api_key, std::ostream& log) {
  const Endpoint endpoint = parse_endpoint(options.endpoint);
  const std::string path = endpoint.base_path + (options.chat ? "/chat/completions" : "/completions");
  const std::vector<PromptRecord> prompts = read_prompts(options.prompts, options.chat);
  ProbeSummary summary;
  summary.prompts = prompts.size();
  const std::set<std::string> done = answered_ids(options.out, summary.dropped_torn_line, log);
  std::vector<const PromptRecord*> pending;
  for (const PromptRecord& prompt : prompts) {
    if (done.contains(prompt.id.dump())) {
      ++summary.already_answered;
    } else {
      pending.push_back(&prompt);
    }
  }
  // Any file: a pipe or device is a fine journal when resuming is not needed.
  LineAppender out(options.out, 0644, false, "probe output", "--out", LineAppender::Target::any_file);
  RateLimiter limiter(options.rate);
  std::atomic<std::size_t> next{0};
  // A refused key (401/403) or an output that cannot be written stops every worker: asking more
  // prompts would only waste requests. The first such error is the run's.
  std::atomic<bool> stopped{false};
  std::mutex state_mutex;  // guards summary, log, stop_error
  std::optional<Error> stop_error;
  const auto stop = [&](Error error) {
    const std::lock_guard lock(state_mutex);
    if (!stopped.exchange(true)) stop_error = std::move(error);
  };
  const auto started = Clock::now();
  Clock::time_point last_draw{};

  const auto draw_progress = [&](bool final_draw) {  // with state_mutex held
    if (!options.progress) return;
    const auto now = Clock::now();
    if (!final_draw && now - last_draw < std::chrono::milliseconds(100)) return;
    last_draw = now;
    const std::size_t finished = summary.answered + summary.failed;
    const double fraction = pending.empty() ? 1.0 : static_cast<double>(finished) / static_cast<double>(pending.size());
    const int width = 30;
    const int filled = static_cast<int>(fraction * width);
    const double seconds = std::chrono::duration<double>(now - started).count();
    log << "\r[" << std::string(static_cast<std::size_t>(filled), '#') << std::string(static_cast<std::size_t>(width - filled), '.')
        << "] " << finished << "/" << pending.size() << " answered " << summary.answered << ", failed " << summary.failed
        << ", retries " << summary.retries << ", " << (seconds > 0 ? static_cast<double>(finished) / seconds : 0.0) << "/s   "
        << (final_draw ? "\n" : "") << std::flush;
  };

  const auto worker = [&](unsigned worker_index) {
    httplib::Client client(endpoint.origin);
    // --timeout bounds connecting, each read and write, and (through the content receiver, which
    // cancels the transfer) the whole response: a server that trickles bytes cannot hold a worker.
    const auto timeout = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.timeout_seconds));
    const time_t seconds = static_cast<time_t>(options.timeout_seconds);
    const time_t micros = static_cast<time_t>((options.timeout_seconds - static_cast<double>(seconds)) * 1e6);
    client.set_connection_timeout(seconds, micros);
    client.set_read_timeout(seconds, micros);
    client.set_write_timeout(seconds, micros);
    client.set_keep_alive(true);
    client.enable_server_certificate_verification(true);
    if (!options.ca_cert.empty()) client.set_ca_cert_path(options.ca_cert);
    std::mt19937_64 jitter(std::random_device{}() ^ (static_cast<std::uint64_t>(worker_index) << 32));
    const httplib::Headers headers = {{"Authorization", "Bearer " + api_key}, {"Accept", "application/json"}};

    for (std::size_t i = next++; i < pending.size() && !stopped.load(); i = next++) {
      const PromptRecord& prompt = *pending[i];
      OrderedJson body = {{"model", options.model}};
      if (options.chat) {
        body["messages"] = prompt.prompt.is_string() ? OrderedJson::array({{{"role", "user"}, {"content", prompt.prompt}}})
                                                     : prompt.prompt;
      } else {
        body["prompt"] = prompt.prompt;
      }
      if (options.max_tokens) body["max_tokens"] = *options.max_tokens;
      if (options.temperature) body["temperature"] = *options.temperature;
      if (options.seed) body["seed"] = *options.seed;
      if (options.top_logprobs) {
        if (options.chat) {
          body["logprobs"] = true;
          body["top_logprobs"] = *options.top_logprobs;
        } else {
          body["logprobs"] = *options.top_logprobs;
        }
      }
      const std::string request = body.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
      std::string failure;
      bool answered = false;
      for (unsigned attempt = 0; attempt <= options.max_retries && !stopped.load(); ++attempt) {
        limiter.acquire();
        httplib::Request http_request;
        http_request.method = "POST";
        http_request.path = path;
        http_request.headers = headers;
        http_request.headers.emplace("Content-Type", "application/json");
        http_request.body = request;
        const Clock::time_point deadline = Clock::now() + timeout;
        std::string response_body;  // received here, so that a late chunk past the deadline cancels the transfer
        http_request.content_receiver = [&response_body, deadline](const char* data, std::size_t length, std::uint64_t,
                                                                    std::uint64_t) {
          response_body.append(data, length);
          return Clock::now() < deadline;
        };
        const httplib::Result result = client.send(http_request);
        std::optional<double> retry_after;
        bool retryable = false;
        if (!result) {
          failure = result.error() == httplib::Error::Canceled
                        ? "no complete response within --timeout " + std::to_string(options.timeout_seconds) + " s"
                        : "no response (" + httplib::to_string(result.error()) + ")";
          retryable = true;
        } else if (result->status == 200) {
          JsonProblem problem;
          const std::optional<OrderedJson> response = try_parse_ordered_json(response_body, problem);
          if (!response || !response->is_object()) {
            failure = "HTTP 200 with a body that is not a JSON object";
            break;
          }
          OrderedJson record = {{"id", prompt.id}};
          if (prompt.prompt_tokens.is_null()) {
            record["prompt"] = prompt.prompt;
          } else {
            record["prompt_tokens"] = prompt.prompt_tokens;
          }
          for (const auto& [name, value] : response->items()) {
            record[name == "id" ? "response_id" : (name == "prompt" ? "response_prompt" : name)] = value;
          }
          try {
            out.append(record.dump(-1, ' ', false, OrderedJson::error_handler_t::replace));
            answered = true;
          } catch (const Error& e) {
            stop(Error(e.code(), std::string(e.what()) + "; the run stopped (answers written before are kept, and a re-run "
                                                          "skips them)"));
          }
          break;
        } else {
          const int status = result->status;
          failure = "HTTP " + std::to_string(status) + ": " + scrub(error_message(response_body), api_key);
          if (status == 401 || status == 403) {
            stop(Error(ErrorCode::permission, options.endpoint + " refused the API key (" + failure +
                                                  "); check the key in the environment variable (--api-key-env). "
                                                  "Answers received so far are kept in " + options.out));
            break;
          }
          retryable = status == 429 || status >= 500;
          if (result->has_header("retry-after-ms")) {
            const auto ms = parse_retry_after(result->get_header_value("retry-after-ms"), 0);
            if (ms) retry_after = *ms / 1000.0;
          }
          if (!retry_after && result->has_header("Retry-After")) {
            retry_after = parse_retry_after(result->get_header_value("Retry-After"),
                                            static_cast<std::int64_t>(std::time(nullptr)));
          }
        }
        if (!retryable || attempt == options.max_retries) break;
        // Exponential backoff with "equal jitter": half the doubled delay fixed, half uniform.
        const double backoff = std::min(options.retry_max_seconds, options.retry_base_seconds * std::pow(2.0, attempt));
        const double delay = retry_after ? std::min(*retry_after, 3600.0)
                                         : backoff * (0.5 + 0.5 * std::uniform_real_distribution<double>(0.0, 1.0)(jitter));
        {
          const std::lock_guard lock(state_mutex);
          ++summary.retries;
        }
        const auto wake = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
        while (Clock::now() < wake && !stopped.load()) {
          std::this_thread::sleep_for(std::min<Clock::duration>(wake - Clock::now(), std::chrono::milliseconds(50)));
        }
      }
      const std::lock_guard lock(state_mutex);
      if (answered) {
        ++summary.answered;
      } else if (!stopped.load()) {
        ++summary.failed;
        if (options.progress) log << "\n";
        log << "probe: prompt " << prompt.id.dump() << " failed after " << options.max_retries << " retries at most: " << failure << "\n";
      }
      draw_progress(false);
    }
  };
  std::vector<std::thread> threads;
  const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(options.concurrency, std::max<std::size_t>(pending.size(), 1)));
  for (unsigned t = 1; t < workers; ++t) threads.emplace_back(worker, t);
  worker(0);
  for (auto& thread : threads) thread.join();
  {
    const std::lock_guard lock(state_mutex);
    draw_progress(true);
  }
  if (stop_error) throw *stop_error;
  return summary;
}

}  // namespace tracemark::serving
