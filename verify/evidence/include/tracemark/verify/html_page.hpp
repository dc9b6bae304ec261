// The one way tracemark makes a self-contained HTML page (the evidence report, the campaigns
// report): a Mustache template (kainjow) of the page's own, rendered with the pieces every page
// shares: the Content-Security-Policy, the shared styles (verify/evidence/report/page.css), the
// error recorder and chart self-check (error_recorder.js), the page's data as JSON in a script
// element, and the pinned Chart.js. All but Chart.js are compiled into the library
// (cmake/EmbedFiles.cmake).
#pragma once

#include <kainjow/mustache.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace tracemark {

// The Chart.js build pinned in corpora/npm-manifest.tsv, read from the cache and checked against its
// SHA-256, without its source-map comment. Throws Error(io) naming the file and the set-up command
// when it is missing or differs.
std::string pinned_chart_library();

// JSON for a <script type="application/json"> element: "<" is written as \u003c, so neither
// "</script" nor "<!--" can appear. Invalid UTF-8 in strings is replaced (U+FFFD).
std::string script_json(const nlohmann::ordered_json& data);

// A page's own parts (embedded byte arrays of the library that owns the page).
struct HtmlPageParts {
  std::string_view name;           // for errors: "report.html"
  std::string_view page_template;  // Mustache; see render_html_page for the shared names it may use
  std::string_view style;          // the page's own CSS, after the shared page.css
  std::string_view script;         // the page's own script, run after Chart.js
};

// Renders `parts.page_template` with `fields` plus these shared names (triple braces: not escaped):
// {{{content_security_policy}}} (no request of any kind; inline scripts and styles, data: images),
// {{{error_recorder}}} (for the <head>, before any other script: it keeps every script error,
// unhandled rejection, blocked request and console.error in window.tmErrors, and defines
// window.tmSelfCheck(charts, expected), which writes into #tm-self-check how many Chart.js charts
// painted and the errors, for the browser tests), {{{style}}} (page.css then parts.style),
// {{{data_json}}} (chart_data, see script_json), {{{chart_library}}} and {{{page_script}}}.
// Every other value is HTML-escaped by the template. Throws Error(internal) when the template does
// not parse.
std::string render_html_page(const HtmlPageParts& parts, kainjow::mustache::data fields,
                             const nlohmann::ordered_json& chart_data, const std::string& chart_library);

}  // namespace tracemark
