// tracemark probe against a local endpoint: what happens when the output cannot be written,
// --timeout as a bound on the whole response (a server that trickles bytes), and --top-logprobs in
// each endpoint's form, kept in the records for `reading scan`.
#include "tracemark/serving/openai_prober.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

constexpr const char* kCompletion =
    R"({"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]})";

// An OpenAI-like endpoint on a free loopback port, serving `path` (by default /v1/chat/completions)
// with `handler`.
class LocalEndpoint {
 public:
  explicit LocalEndpoint(httplib::Server::Handler handler, const std::string& path = "/v1/chat/completions") {
    server_.Post(path, std::move(handler));
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

// Options for a probe of `count` prompts against `endpoint`, answers into the folder's answers.jsonl.
serving::ProbeOptions probe_options(const LocalEndpoint& endpoint, const testing::TemporaryFolder& folder, int count) {
  serving::ProbeOptions options;
  options.endpoint = endpoint.url();
  options.model = "m";
  options.prompts = write_prompts(folder, count);
  options.out = (folder.path() / "answers.jsonl").string();
  return options;
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
  serving::ProbeOptions options = probe_options(endpoint, folder, 10);
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
  serving::ProbeOptions options = probe_options(endpoint, folder, 1);
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

// --top-logprobs asks in each endpoint's own form (chat: "logprobs": true and "top_logprobs": k;
// completions: "logprobs": k), and the answer's logprobs stay in the record as the endpoint sent them.
TEST(OpenAiProber, TopLogprobsAreAskedInEachEndpointsFormAndKept) {
  for (const bool chat : {true, false}) {
    std::mutex mutex;
    std::vector<nlohmann::json> bodies;
    const char* answer =
        chat ? R"({"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":" the"},)"
               R"("logprobs":{"content":[{"token":" the","logprob":-0.1,"bytes":[32,116,104,101],"top_logprobs":[)"
               R"({"token":" the","logprob":-0.1,"bytes":[32,116,104,101]},{"token":" a","logprob":-2.5,"bytes":[32,97]}]}]}}]})"
             : R"({"id":"c1","object":"text_completion","choices":[{"index":0,"text":" the","logprobs":{"tokens":[" the"],)"
               R"("token_logprobs":[-0.1],"top_logprobs":[{" the":-0.1," a":-2.5}]}}]})";
    LocalEndpoint endpoint(
        [&](const httplib::Request& req, httplib::Response& res) {
          std::lock_guard lock(mutex);
          bodies.push_back(nlohmann::json::parse(req.body));
          res.set_content(answer, "application/json");
        },
        chat ? "/v1/chat/completions" : "/v1/completions");
    testing::TemporaryFolder folder;
    serving::ProbeOptions options = probe_options(endpoint, folder, 2);
    options.chat = chat;
    options.max_tokens = 1;
    options.top_logprobs = 5;
    std::ostringstream log;
    const serving::ProbeSummary summary = serving::run_probe(options, "sk-test-0123456789abcdef", log);
    EXPECT_EQ(summary.answered, 2u) << log.str();
    ASSERT_EQ(bodies.size(), 2u);
    for (const nlohmann::json& body : bodies) {
      if (chat) {
        EXPECT_EQ(body.at("logprobs"), true) << body;
        EXPECT_EQ(body.at("top_logprobs"), 5) << body;
      } else {
        EXPECT_EQ(body.at("logprobs"), 5) << body;
        EXPECT_FALSE(body.contains("top_logprobs")) << body;
      }
    }
    std::ifstream out(options.out);
    std::string line;
    int records = 0;
    while (std::getline(out, line)) {
      const nlohmann::json record = nlohmann::json::parse(line);
      const nlohmann::json& logprobs = record.at("choices").at(0).at("logprobs");
      EXPECT_EQ(chat ? logprobs.at("content").at(0).at("top_logprobs").size() : logprobs.at("top_logprobs").at(0).size(), 2u)
          << record;
      ++records;
    }
    EXPECT_EQ(records, 2);
  }
  // Without the option nothing is asked: some endpoints refuse "logprobs".
  std::atomic<bool> asked{false};
  LocalEndpoint endpoint([&](const httplib::Request& req, httplib::Response& res) {
    if (nlohmann::json::parse(req.body).contains("logprobs")) asked = true;
    res.set_content(kCompletion, "application/json");
  });
  testing::TemporaryFolder folder;
  const serving::ProbeOptions options = probe_options(endpoint, folder, 1);
  std::ostringstream log;
  EXPECT_EQ(serving::run_probe(options, "sk-test-0123456789abcdef", log).answered, 1u) << log.str();
  EXPECT_FALSE(asked.load());
}

}  // namespace
}  // namespace tracemark
