#include "tracemark/verify/jsonl_reader.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <zlib.h>

#include "test_support.hpp"
#include "tracemark/error.hpp"

namespace tracemark {
namespace {

std::filesystem::path write_file(const testing::TemporaryFolder& folder, const std::string& content) {
  const auto path = folder.path() / "input.jsonl";
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(JsonlReader, ReadsRecordsWithLinesOffsetsAndIds) {
  testing::TemporaryFolder folder;
  JsonlReader reader(write_file(folder, "{\"id\":\"a\",\"tokens\":[1,2]}\n\n  \n{\"tokens\":[3]}\r\n"));
  JsonlRecord record;
  ASSERT_TRUE(reader.next(record));
  EXPECT_EQ(record.line, 1u);
  EXPECT_EQ(record.byte_offset, 0u);
  EXPECT_EQ(record_id(record), "a");
  EXPECT_EQ(record_tokens(reader, record), (std::vector<std::uint32_t>{1, 2}));
  ASSERT_TRUE(reader.next(record));
  EXPECT_EQ(record.line, 4u);
  EXPECT_EQ(record.byte_offset, 30u);
  EXPECT_EQ(record_id(record), 4);  // no id: the line number
  EXPECT_FALSE(reader.next(record));
}

TEST(JsonlReader, MalformedLineNamesFileLineAndByteOffset) {
  testing::TemporaryFolder folder;
  const auto path = write_file(folder, "{\"tokens\":[1]}\n{\"tokens\":[1,}\n");
  JsonlReader reader(path);
  JsonlRecord record;
  ASSERT_TRUE(reader.next(record));
  try {
    reader.next(record);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(message.find(path.string() + " line 2"), std::string::npos) << message;
    EXPECT_NE(message.find("byte offset 28"), std::string::npos) << message;
  }
}

TEST(JsonlReader, RejectsTokensThatAreNotIds) {
  testing::TemporaryFolder folder;
  for (const std::string line : {"{\"tokens\":[1,-2]}", "{\"tokens\":[1.5]}", "{\"tokens\":[4294967296]}",
                                 "{\"tokens\":\"1 2\"}", "{\"text\":\"hello\"}", "[1,2]"}) {
    JsonlReader reader(write_file(folder, line + "\n"));
    JsonlRecord record;
    ASSERT_TRUE(reader.next(record));
    try {
      record_tokens(reader, record);
      FAIL() << "accepted " << line;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_NE(std::string(e.what()).find("line 1"), std::string::npos) << e.what();
    }
  }
}

std::filesystem::path write_gzip(const testing::TemporaryFolder& folder, const std::string& content) {
  const auto path = folder.path() / "input.jsonl.gz";
  gzFile file = gzopen(path.c_str(), "wb");
  EXPECT_NE(file, nullptr);
  EXPECT_EQ(gzwrite(file, content.data(), static_cast<unsigned>(content.size())), static_cast<int>(content.size()));
  EXPECT_EQ(gzclose(file), Z_OK);
  return path;
}

// A NUL byte ends the text for nlohmann's parser and for C strings, so a line holding one could be
// read as its part before the NUL. Both kinds of file refuse it, naming the byte.
TEST(JsonlReader, RefusesANulByteInPlainAndGzipLines) {
  testing::TemporaryFolder folder;
  const std::string content = std::string("{\"tokens\":[1]}\n{\"tokens\":[1,2,3]}") + '\0' + "garbage\n";
  for (const auto& path : {write_file(folder, content), write_gzip(folder, content)}) {
    JsonlReader reader(path);
    JsonlLine line;
    ASSERT_TRUE(reader.next_line(line));
    try {
      reader.next_line(line);
      FAIL() << path << ": a line with a NUL byte was read as " << line.text;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input);
      EXPECT_NE(std::string(e.what()).find(path.string() + " line 2 (byte offset 33): a NUL byte"), std::string::npos) << e.what();
    }
  }
}

// Lines longer than the decompression buffer, and a last line without a newline, come out whole.
TEST(JsonlReader, GzipLinesCrossBufferBoundaries) {
  testing::TemporaryFolder folder;
  std::string long_tokens;
  for (int i = 0; i < 60000; ++i) long_tokens += (i ? "," : "") + std::to_string(i % 1000);
  const std::string content = "{\"tokens\":[" + long_tokens + "]}\n\n{\"tokens\":[7]}\r\n{\"tokens\":[" + long_tokens + "]}";
  JsonlReader plain(write_file(folder, content));
  JsonlReader gzip(write_gzip(folder, content));
  JsonlLine expected, got;
  std::size_t lines = 0;
  while (plain.next_line(expected)) {
    ASSERT_TRUE(gzip.next_line(got));
    EXPECT_EQ(got.text, expected.text);
    EXPECT_EQ(got.line, expected.line);
    EXPECT_EQ(got.byte_offset, expected.byte_offset);
    ++lines;
  }
  EXPECT_FALSE(gzip.next_line(got));
  EXPECT_EQ(lines, 3u);
}

TEST(JsonlReader, MissingFileIsAnIoError) {
  testing::TemporaryFolder folder;
  try {
    JsonlReader reader(folder.path() / "absent.jsonl");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::io);
    EXPECT_NE(std::string(e.what()).find("absent.jsonl"), std::string::npos);
  }
}

// Issue 12: a record longer than the limit is refused when the limit is reached, naming the file,
// line and byte offset, whatever follows; shorter ones are read whole.
TEST(JsonlReader, RefusesRecordsLongerThanTheLimit) {
  testing::TemporaryFolder folder;
  const auto path = write_file(folder, "{\"tokens\":[1]}\n{\"tokens\":[" + std::string(5000, ' ') + "2]}\n");
  JsonlReader reader(path, 1000);
  JsonlRecord record;
  ASSERT_TRUE(reader.next(record));
  try {
    reader.next(record);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_input);
    EXPECT_NE(std::string(e.what()).find(path.string() + " line 2 (byte offset 15): the record is longer than the limit of 1000 bytes"),
              std::string::npos)
        << e.what();
  }
  JsonlReader roomy(path, 5014);  // exactly the second line's length
  ASSERT_TRUE(roomy.next(record));
  ASSERT_TRUE(roomy.next(record));
  EXPECT_EQ(record_tokens(roomy, record), std::vector<std::uint32_t>{2});
}

std::string gzip_of(const std::string& text) {
  z_stream stream{};
  deflateInit2(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(compressBound(static_cast<uLong>(text.size())) + 64, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::size_t count_records(const std::filesystem::path& path) {
  JsonlReader reader(path);
  JsonlRecord record;
  std::size_t count = 0;
  while (reader.next(record)) ++count;
  return count;
}

TEST(JsonlReader, GzipMembersAreReadAndAnythingElseAfterThemIsAnError) {
  testing::TemporaryFolder folder;
  const std::string member = gzip_of("{\"tokens\":[1]}\n{\"tokens\":[2]}\n");
  const auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(folder.path() / name, std::ios::binary) << bytes;
    return folder.path() / name;
  };
  EXPECT_EQ(count_records(write("one.jsonl.gz", member)), 2u);
  EXPECT_EQ(count_records(write("two.jsonl.gz", member + member)), 4u);
  for (const auto& [name, bytes] : {std::pair<std::string, std::string>{"garbage.jsonl.gz", member + "trailing garbage\n"},
                                    {"zeros.jsonl.gz", member + std::string(8, '\0')},
                                    {"truncated.jsonl.gz", member.substr(0, member.size() - 6)},
                                    {"plain.jsonl.gz", "{\"tokens\":[1]}\n"}}) {
    try {
      count_records(write(name, bytes));
      ADD_FAILURE() << name << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::invalid_input) << e.what();
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tracemark
