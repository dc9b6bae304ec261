#include "tracemark/verify/html_page.hpp"

#include "page_assets.hpp"
#include "tracemark/error.hpp"
#include "tracemark/verify/pinned_files.hpp"

namespace tracemark {
namespace {

constexpr std::string_view kChartPackage = "chart.js";
constexpr std::string_view kChartFile = "package/dist/chart.umd.min.js";
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

}  // namespace

std::string pinned_chart_library() {
  std::string text = read_pinned_npm_file(kChartPackage, kChartFile, "the HTML reports' charts (Chart.js) need it");
  // Inlined: the source-map comment would make developer tools fetch a file that is not there.
  if (const std::size_t at = text.rfind("\n//# sourceMappingURL="); at != std::string::npos) text.resize(at + 1);
  if (text.find("</script") != std::string::npos) throw Error(ErrorCode::internal, "Chart.js holds </script and cannot be inlined");
  return text;
}

std::string script_json(const nlohmann::ordered_json& data) {
  const std::string text = data.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string render_html_page(const HtmlPageParts& parts, kainjow::mustache::data fields,
                             const nlohmann::ordered_json& chart_data, const std::string& chart_library) {
  fields.set("content_security_policy", std::string(kContentSecurityPolicy));
  fields.set("error_recorder", std::string(page_assets::kErrorRecorder));
  fields.set("style", std::string(page_assets::kPageStyle) + std::string(parts.style));
  fields.set("data_json", script_json(chart_data));
  fields.set("chart_library", chart_library);
  fields.set("page_script", std::string(parts.script));
  kainjow::mustache::mustache page_template{std::string(parts.page_template)};
  if (!page_template.is_valid()) {
    throw Error(ErrorCode::internal, std::string(parts.name) + "'s template does not parse: " + page_template.error_message());
  }
  return page_template.render(fields);
}

}  // namespace tracemark
