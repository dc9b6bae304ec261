// Serving integration (issue 7): request validation, UTF-8 handling of streamed text, API key
// files, the audit log's whole-line appends under concurrency, and Retry-After parsing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/stat.h>
#include <thread>

#include "tracemark/serving/api_keys.hpp"
#include "tracemark/serving/audit_log.hpp"
#include "tracemark/serving/openai_prober.hpp"
#include "tracemark/serving/openai_protocol.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/utf8.hpp"

namespace tracemark::serving {
namespace {

RequestLimits limits() {
  RequestLimits l;
  l.model_name = "tiny";
  l.max_tokens_limit = 100;
  l.default_max_tokens = 20;
  return l;
}

int status_of(std::string_view body, Endpoint endpoint = Endpoint::chat_completions) {
  try {
    parse_completion_request(body, endpoint, limits());
  } catch (const ApiError& e) {
    return e.status();
  }
  return 200;
}

std::string message_of(std::string_view body, Endpoint endpoint = Endpoint::chat_completions) {
  try {
    parse_completion_request(body, endpoint, limits());
  } catch (const ApiError& e) {
    return e.what();
  }
  return {};
}

TEST(OpenAiProtocol, ParsesChatRequestsWithDefaultsAndRanges) {
  const CompletionRequest r = parse_completion_request(
      R"({"model":"tiny","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}],
          "temperature":0,"top_p":0.5,"seed":-3,"stream":true,"stream_options":{"include_usage":true},"user":"ignored"})",
      Endpoint::chat_completions, limits());
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "hi");
  EXPECT_EQ(r.max_tokens, 20u);
  EXPECT_EQ(r.temperature, 0.0);
  EXPECT_EQ(r.top_p, 0.5);
  EXPECT_EQ(r.seed, -3);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  EXPECT_EQ(render_chat_prompt(r.messages), "system: be brief\n\nuser: hi\n\nassistant:");
  EXPECT_EQ(r.prompt_for_log.dump(), R"([{"role":"system","content":"be brief"},{"role":"user","content":"hi"}])");
}

TEST(OpenAiProtocol, ParsesCompletionPromptsAsTextOrIds) {
  EXPECT_EQ(parse_completion_request(R"({"model":"tiny","prompt":"abc","max_tokens":100})", Endpoint::completions, limits()).prompt_text,
            "abc");
  const CompletionRequest ids = parse_completion_request(R"({"model":"tiny","prompt":[5,6],"max_completion_tokens":3})",
                                                         Endpoint::completions, limits());
  EXPECT_TRUE(ids.prompt_is_tokens);
  EXPECT_EQ(ids.prompt_tokens, (std::vector<std::uint32_t>{5, 6}));
  EXPECT_EQ(ids.max_tokens, 3u);
  EXPECT_EQ(status_of(R"({"model":"tiny","prompt":["a","b"]})", Endpoint::completions), 400);
  EXPECT_EQ(status_of(R"({"model":"tiny","prompt":[-1]})", Endpoint::completions), 400);
}

TEST(OpenAiProtocol, MalformedJsonNamesLineColumnAndByteOffset) {
  EXPECT_EQ(status_of("{\"model\": \"tiny\",\n  \"messages\": ]"), 400);
  EXPECT_NE(message_of("{\"model\": \"tiny\",\n  \"messages\": ]").find("at line 2, column 15 (byte offset 32)"), std::string::npos)
      << message_of("{\"model\": \"tiny\",\n  \"messages\": ]");
  EXPECT_NE(message_of("").find("byte offset 0"), std::string::npos);
  EXPECT_NE(message_of("\"just a string\"").find("must be a JSON object, not a string"), std::string::npos);
}

TEST(OpenAiProtocol, RefusesMissingAndOutOfRangeFields) {
  EXPECT_EQ(status_of(R"({"messages":[{"role":"user","content":"x"}]})"), 400);
  EXPECT_EQ(status_of(R"({"model":"other","messages":[{"role":"user","content":"x"}]})"), 404);
  EXPECT_EQ(status_of(R"({"model":"tiny"})"), 400);
  EXPECT_EQ(status_of(R"({"model":"tiny","messages":[]})"), 400);
  EXPECT_EQ(status_of(R"({"model":"tiny","messages":[{"content":"x"}]})"), 400);
  EXPECT_EQ(status_of(R"({"model":"tiny","messages":[{"role":"wizard","content":"x"}]})"), 400);
  EXPECT_EQ(status_of(R"({"model":"tiny","messages":[{"role":"user"}]})"), 400);
  const std::string ok = R"({"model":"tiny","messages":[{"role":"user","content":"x"}])";
  EXPECT_EQ(status_of(ok + "}"), 200);
  EXPECT_EQ(status_of(ok + R"(,"max_tokens":101})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"max_tokens":100})"), 200);
  EXPECT_EQ(status_of(ok + R"(,"max_tokens":1.5})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"temperature":2.01})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"temperature":"hot"})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"top_p":1.01})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"seed":1.5})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"n":1,"stop":null,"logprobs":false})"), 200);
  EXPECT_EQ(status_of(ok + R"(,"stop":["\n"]})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"logprobs":true})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"stream":"yes"})"), 400);
  EXPECT_EQ(status_of(ok + R"(,"stream_options":{"include_usage":true}})"), 400);
}

TEST(OpenAiProtocol, ErrorBodiesHaveOpenAiShape) {
  const ApiError error(401, "Incorrect API key provided.", "invalid_request_error", {}, "invalid_api_key");
  const auto body = nlohmann::json::parse(error.body());
  EXPECT_EQ(body["error"]["message"], "Incorrect API key provided.");
  EXPECT_EQ(body["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(body["error"]["param"].is_null());
  EXPECT_EQ(body["error"]["code"], "invalid_api_key");
}

TEST(OpenAiProtocol, ChunksAndResponsesHaveOpenAiShape) {
  const auto chunk = completion_chunk(Endpoint::chat_completions, "chatcmpl-1", 7, "tiny", "hi", true, "");
  EXPECT_EQ(chunk.dump(),
            R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"tiny","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":null}]})");
  const auto last = completion_chunk(Endpoint::chat_completions, "chatcmpl-1", 7, "tiny", "", false, "length");
  EXPECT_EQ(last["choices"][0]["delta"].dump(), "{}");
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  const auto response = completion_response(Endpoint::completions, "cmpl-1", 7, "tiny", "text", "length", {3, 4});
  EXPECT_EQ(response["object"], "text_completion");
  EXPECT_EQ(response["choices"][0]["text"], "text");
  EXPECT_EQ(response["usage"]["total_tokens"], 7);
  EXPECT_EQ(server_sent_event(nlohmann::ordered_json{{"a", 1}}), "data: {\"a\":1}\n\n");
}

// Serve repairs text by the project's one rule (maximal subparts, as the tokenizer's --lossy does):
// a sequence cut off by the end of a response is one U+FFFD, not one per byte.
TEST(Utf8, ServedTextIsRepairedByMaximalSubparts) {
  EXPECT_EQ(replace_invalid_utf8("abc"), "abc");
  EXPECT_EQ(replace_invalid_utf8("\xC3\xA9"), "\xC3\xA9");
  EXPECT_EQ(replace_invalid_utf8("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(replace_invalid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");       // overlong
  EXPECT_EQ(replace_invalid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(replace_invalid_utf8("\xE2\x82"), "\xEF\xBF\xBD");       // cut off: one maximal subpart
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98" "x"), "\xEF\xBF\xBD" "x");
}

TEST(Utf8, StreamSplitterHoldsBackIncompleteSequences) {
  Utf8StreamSplitter splitter;
  EXPECT_EQ(splitter.take("a\xE2"), "a");
  EXPECT_EQ(splitter.take("\x82"), "");
  EXPECT_EQ(splitter.take("\xAC" "b"), "\xE2\x82\xAC" "b");
  EXPECT_EQ(splitter.take("\xF0\x9F"), "");
  EXPECT_EQ(splitter.finish(), "\xEF\xBF\xBD");
  // Cut anywhere, the pieces add up to the repair of the whole, valid or not.
  for (const std::string& text : {std::string("z\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80!"),
                                 std::string("\xE2\x82z\xF0\x9F\x98\xED\xA0\x80\xC3\xF4\x90\x80\x80\xE0\xA0")}) {
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
      for (std::size_t second = cut; second <= text.size(); ++second) {
        Utf8StreamSplitter s;
        std::string joined = s.take(text.substr(0, cut));
        joined += s.take(text.substr(cut, second - cut));
        joined += s.take(text.substr(second));
        joined += s.finish();
        EXPECT_EQ(joined, replace_invalid_utf8(text)) << "cuts at " << cut << " and " << second;
      }
    }
  }
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("tracemark-serving-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& name, const std::string& content, mode_t mode = 0600) {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
  std::filesystem::path dir_;
};

using ApiKeys = TempDir;

TEST_F(ApiKeys, MapsKeysToAccounts) {
  const auto path = write("keys.txt", "# comment\n\nsk-aaaaaaaaaaaaaaaa alice\r\n  sk-bbbbbbbbbbbbbbbb\tbob  \n");
  const ApiKeyTable table = ApiKeyTable::load(path);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.account_of("sk-aaaaaaaaaaaaaaaa"), "alice");
  EXPECT_EQ(table.account_of("sk-bbbbbbbbbbbbbbbb"), "bob");
  EXPECT_EQ(table.account_of("sk-aaaaaaaaaaaaaaa"), std::nullopt);
  EXPECT_EQ(table.account_of(""), std::nullopt);
}

TEST_F(ApiKeys, RefusesBadFilesWithoutShowingKeys) {
  const auto expect_error = [&](const std::string& content, const std::string& fragment, mode_t mode = 0600) {
    const auto path = write("bad.txt", content, mode);
    try {
      ApiKeyTable::load(path);
      ADD_FAILURE() << "accepted: " << content;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("sk-secret"), std::string::npos) << e.what();
    }
  };
  expect_error("sk-secret-aaaaaaaaaa alice\nsk-secret-aaaaaaaaaa bob\n", "line 2 (byte offset 27): the same key is already given on line 1");
  expect_error("sk-secret alice\n", "line 1 (byte offset 0): the key is 9 characters long");
  expect_error("sk-secret-aaaaaaaaaa al/ice\n", "holds '/' at byte offset 23");
  expect_error("sk-secret-aaaaaaaaaa alice extra\n", "expected two fields");
  expect_error("# nothing\n", "holds no keys");
  expect_error("sk-secret-aaaaaaaaaa alice\n", "chmod 600", 0644);
}

TEST(BearerToken, ParsesTheAuthorizationHeader) {
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("bearer  abc "), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer "), std::nullopt);
}

using AuditLogFile = TempDir;

TEST_F(AuditLogFile, ConcurrentAppendsNeverInterleave) {
  const auto path = dir_ / "audit.jsonl";
  {
    AuditLog log(path, false);
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&log, t] {
        for (int i = 0; i < 100; ++i) {
          // Lines of very different lengths (up to 64 kB) make interleaving likely if it could happen.
          log.append(nlohmann::json{{"thread", t}, {"i", i}, {"pad", std::string(static_cast<std::size_t>((i * 7919 + t) % 65'536), 'x')}}.dump());
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(log.lines_written(), 800u);
  }
  std::ifstream in(path);
  std::string line;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    const auto value = nlohmann::json::parse(line);  // throws on a torn or mixed line
    EXPECT_EQ(value["pad"].get<std::string>().size(), static_cast<std::size_t>((value["i"].get<int>() * 7919 + value["thread"].get<int>()) % 65'536));
    ++lines;
  }
  EXPECT_EQ(lines, 800u);
  struct stat info {};
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(AuditLogFile, RefusesALogEndingInsideALine) {
  const auto path = write("torn.jsonl", "{\"a\":1}\n{\"b\":");
  try {
    AuditLog log(path, false);
    ADD_FAILURE() << "accepted a torn log";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("starts at byte offset 8"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncate -s 8"), std::string::npos) << e.what();
  }
  const auto whole = write("whole.jsonl", "{\"a\":1}\n");
  AuditLog log(whole, true);
  log.append("{\"b\":2}");
  std::ifstream in(whole);
  std::ostringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), "{\"a\":1}\n{\"b\":2}\n");
}

TEST(AuditTime, IsRfc3339Utc) {
  const std::string time = rfc3339_utc_now();
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time[4], '-');
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time[19], '.');
  EXPECT_EQ(time.back(), 'Z');
}

TEST(RetryAfter, ParsesSecondsAndHttpDates) {
  EXPECT_EQ(parse_retry_after("3", 0), 3.0);
  EXPECT_EQ(parse_retry_after(" 1.5 ", 0), 1.5);
  // RFC 9110's example date is 784111777 seconds after the epoch.
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7.0);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0.0);
  EXPECT_EQ(parse_retry_after("soon", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after("", 0), std::nullopt);
  EXPECT_EQ(parse_retry_after("-1", 0), std::nullopt);
}

}  // namespace
}  // namespace tracemark::serving
