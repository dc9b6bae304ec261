// tracemark probe against a local endpoint: what happens when the output cannot be written, and
// --timeout as a bound on the whole response (a server that trickles bytes).
#include "tracemark/serving/openai_prober.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr const char* kCompletion =
    R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]})";

// An OpenAI-like endpoint on a free loopback port, serving /v1/chat/completions with `handler`.
class LocalEndpoint {
 public:
  explicit LocalEndpoint(httplib::Server::Handler handler) {
    server_.Post("/v1/chat/completions", std::move(handler));
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalEndpoint() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

std::string write_prompts(const testing::TemporaryFolder& folder, int count) {
  const auto path = folder.path() / "prompts.jsonl";
  std::ofstream out(path);
  for (int i = 0; i < count; ++i) out << R"({"id":"p)" << i << R"(","prompt":"hello"})" << "\n";
  return path.string();
}

// A full disk stops the run with the reason, instead of counting each answer as a failed prompt
// ("a body that is not a JSON object") and asking the rest.
TEST(OpenAiProber, AFailedWriteOfTheOutputStopsTheRun) {
  std::atomic<int> requests{0};
  LocalEndpoint endpoint([&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.set_content(kCompletion, "application/json");
  });
  testing::TemporaryFolder folder;
  serving::ProbeOptions options;
  options.endpoint = endpoint.url();
  options.model = "m";
  options.prompts = write_prompts(folder, 10);
  options.out = "/dev/full";  // every write fails with ENOSPC
  options.concurrency = 1;
  std::ostringstream log;
  try {
    serving::run_probe(options, "sk-test-0123456789abcdef", log);
    FAIL() << "the run went on after the output could not be written; log: " << log.str();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io);
    EXPECT_NE(std::string(e.what()).find("writing probe output /dev/full failed: No space left on device"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("the run stopped"), std::string::npos) << e.what();
  }
  EXPECT_EQ(requests.load(), 1) << "no prompt is asked after the first answer could not be written";
}

// --timeout bounds the whole response, not only each read: a server that sends a byte every 100 ms
// for 4 s never trips a 1 s read timeout, but the request is given up after about 1 s.
TEST(OpenAiProber, TimeoutBoundsTheWholeResponse) {
  LocalEndpoint endpoint([](const httplib::Request&, httplib::Response& res) {
    res.set_chunked_content_provider("application/json", [](std::size_t offset, httplib::DataSink& sink) {
      const std::string body = kCompletion + std::string(40, ' ');
      if (offset >= body.size()) {
        sink.done();
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      return sink.write(body.data() + offset, 1);
    });
  });
  testing::TemporaryFolder folder;
  serving::ProbeOptions options;
  options.endpoint = endpoint.url();
  options.model = "m";
  options.prompts = write_prompts(folder, 1);
  options.out = (folder.path() / "out.jsonl").string();
  options.max_retries = 0;
  options.timeout_seconds = 1.0;
  std::ostringstream log;
  const auto started = std::chrono::steady_clock::now();
  const serving::ProbeSummary summary = serving::run_probe(options, "sk-test-0123456789abcdef", log);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(summary.answered, 0u);
  EXPECT_EQ(summary.failed, 1u);
  EXPECT_LT(seconds, 3.0) << "the trickling response was read to its end";
  EXPECT_NE(log.str().find("no complete response within --timeout"), std::string::npos) << log.str();
}

}  // namespace
}  // namespace tracemark
