#include "tracemark/campaigns/line_file_writer.hpp"

#include <string>
#include <vector>
#include <zlib.h>

#include "tracemark/error.hpp"

namespace tracemark::campaigns {

struct LineFileWriter::Deflater {
  z_stream stream{};
  std::string pending;  // lines gathered before compressing (fewer, larger deflate calls)
  std::vector<unsigned char> out = std::vector<unsigned char>(1 << 18);
  ~Deflater() { deflateEnd(&stream); }
};

LineFileWriter::LineFileWriter(const std::filesystem::path& destination, mode_t mode)
    : destination_(destination), file_(destination, mode) {
  if (destination.extension() == ".gz") {
    deflater_ = std::make_unique<Deflater>();
    // Level 1: gzip's fastest; window bits 15 + 16 write a gzip header (zcat and our readers take it).
    if (deflateInit2(&deflater_->stream, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw Error(ErrorCode::internal, "zlib could not start a gzip stream");
    }
  }
}

LineFileWriter::~LineFileWriter() = default;

void LineFileWriter::deflate_into_file(std::string_view bytes, bool finish) {
  z_stream& z = deflater_->stream;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  int status = Z_OK;
  do {
    z.next_out = deflater_->out.data();
    z.avail_out = static_cast<uInt>(deflater_->out.size());
    status = deflate(&z, finish ? Z_FINISH : Z_NO_FLUSH);
    if (status == Z_STREAM_ERROR) throw Error(ErrorCode::internal, "zlib failed while compressing " + destination_.string());
    file_.stream().write(reinterpret_cast<const char*>(deflater_->out.data()),
                         static_cast<std::streamsize>(deflater_->out.size() - z.avail_out));
  } while (z.avail_out == 0 || (finish && status != Z_STREAM_END));
  if (!file_.stream()) throw Error(ErrorCode::io, "writing " + destination_.string() + " failed (disk full?)");
}

void LineFileWriter::write_line(std::string_view line) {
  if (!deflater_) {
    file_.stream() << line << '\n';
    if (!file_.stream()) throw Error(ErrorCode::io, "writing " + destination_.string() + " failed (disk full?)");
    return;
  }
  deflater_->pending.append(line);
  deflater_->pending.push_back('\n');
  if (deflater_->pending.size() >= (1u << 20)) {
    deflate_into_file(deflater_->pending, false);
    deflater_->pending.clear();
  }
}

void LineFileWriter::commit(bool overwrite) {
  if (deflater_) {
    deflate_into_file(deflater_->pending, true);
    deflater_->pending.clear();
  }
  file_.commit(overwrite);
}

}  // namespace tracemark::campaigns
