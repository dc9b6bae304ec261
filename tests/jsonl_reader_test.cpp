#include "tracemark/verify/jsonl_reader.hpp"

#include <gtest/gtest.h>

#include <fstream>

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

}  // namespace
}  // namespace tracemark
