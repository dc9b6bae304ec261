#include "simulated_prompts.hpp"

#include <array>
#include <string_view>
#include <utility>

namespace tracemark::campaigns {
namespace {

using Words = std::vector<std::string_view>;

const Words kSubjects = {"algebra", "probability", "geometry", "number theory", "combinatorics", "physics", "chemistry",
                         "economics", "logic", "statistics", "calculus", "graph theory", "game theory", "biology"};
const Words kDatasets = {"sales", "customers", "orders", "inventory", "sensor_readings", "transactions", "web_logs",
                         "payroll", "shipments", "survey", "tickets", "campaigns"};
const Words kColumns = {"revenue", "price", "quantity", "latency_ms", "age", "score", "duration", "discount", "temperature"};
const Words kStatistics = {"mean", "median", "95th percentile", "standard deviation", "total", "weekly trend"};
const Words kLanguages = {"Python", "TypeScript", "Go", "Rust", "Java", "C++"};
const Words kTools = {"search_web", "run_sql", "read_file", "write_file", "plot_chart", "fetch_url", "python_exec",
                      "list_directory", "query_dataframe", "send_email", "create_ticket", "get_calendar", "run_tests",
                      "git_diff", "shell"};

// Paraphrase table: each group lists interchangeable phrasings; a template's fixed text is written
// with the first, and a request swaps each occurrence for another member with some probability.
const std::vector<Words> kParaphrases = {
    {"step by step", "one step at a time", "in sequential steps", "stepwise"},
    {"show", "write out", "display", "present"},
    {"complete", "full", "entire", "whole"},
    {"reasoning", "chain of thought", "line of reasoning", "thought process"},
    {"final answer", "conclusion", "end result", "answer"},
    {"carefully", "rigorously", "thoroughly", "meticulously"},
    {"problem", "question", "exercise", "puzzle"},
    {"explain", "justify", "describe", "detail"},
    {"task", "assignment", "job", "request"},
    {"use", "call", "invoke", "make use of"},
    {"tools", "functions", "tool calls", "available tools"},
    {"return", "respond with", "reply with", "output"},
    {"implement", "write", "build", "create"},
    {"repository", "codebase", "project", "repo"},
    {"tests", "test suite", "unit tests", "checks"},
    {"plan", "outline", "lay out", "sketch"},
};

const Words kReasoningRoles = {"You are an expert tutor who never skips a step.", "You are a meticulous mathematician.",
                               "You are a reward model that grades answers for a reasoning benchmark.",
                               "Act as a careful logician.", "You are a grading assistant.", ""};
const Words kReasoningInstructions = {
    "Solve the following problem and show your complete reasoning step by step before the final answer.",
    "Think through the problem below step by step, and show every intermediate result before the final answer.",
    "Work through this problem carefully. Show your complete reasoning, then give the final answer on its own line.",
    "Explain your reasoning in detail, check each step carefully, and finish with the final answer.",
    "Score the response below from 1 to 10 for correctness and explain the score step by step.",
    "Compare the two answers below, decide which is better and explain your complete reasoning.",
    "Rate how well the answer solves the problem on a scale of 1 to 10 and explain your reasoning carefully."};
const Words kReasoningBodies = {"Problem ({subject}): {payload}", "Here is a {subject} problem: {payload}",
                                "Problem: {payload} Answer given: {payload}", "Question about {subject}: {payload} Candidate answer: {payload}",
                                "{subject} exercise: {payload}"};
const Words kReasoningClosers = {"Do not skip any step.", "Show all work, including checks.", "State any assumption you make.",
                                 "Verify the final answer by substitution.", ""};

const Words kToolSystems = {
    "You are an autonomous data analysis agent. You can use these tools: {tools}. To use a tool, return a JSON object with "
    "the tool name and arguments.",
    "You are a helpful assistant with function calling. Available tools: {tools}. Use the tools whenever they help, and "
    "return one tool call at a time as JSON.",
    "You are an agent that completes tasks by calling tools. Tools: {tools}. Plan the steps, then use the tools in order."};
const Words kToolTasks = {
    "Task: load {dataset}.csv, compute the {statistic} of {column} by month and plot it.",
    "Task: find the rows of {dataset} where {column} is above the {statistic} and write them to a new file.",
    "Task: join {dataset} with customers on customer_id and report the {statistic} of {column} per region.",
    "Task: search for recent news about {word} and summarise the three most relevant results.",
    "Task: read the file {word}_report.txt, extract every date and amount, and return them as a table.",
    "Task: {payload} Use the tools to answer.",
    "Previous tool result: {{\"rows\": {number}, \"column\": \"{column}\"}}. Continue the task: compute the {statistic}."};

const Words kCodingSystems = {
    "You are an autonomous software engineering agent working in the repository {word}-{word}. You can run shell "
    "commands, read and edit files, and run the tests.",
    "You are a coding agent. Use the tools to inspect the repository, edit files and run the tests until they pass.",
    "You are an expert {language} engineer acting as an agent: plan the change, use the tools to apply it, then verify it."};
const Words kCodingTasks = {
    "Implement {function} in src/{word}.{extension} so that {payload} Plan the steps, then write the complete code.",
    "The tests in tests/test_{word}.{extension} fail. Find the bug in the code below and fix it.\n{code}",
    "Refactor this {language} function for readability and add unit tests:\n{code}",
    "Write a {language} module that {payload} Include error handling and tests.",
    "Here is the current implementation:\n{code}\nImplement {function} next, then run the test suite and report."};

const Words kGeneralFramings = {
    "Can you explain what this means? {text}", "Summarize the following paragraph in two sentences:\n{text}",
    "{text}", "What do you think about this: {text}", "Rewrite this to sound more formal: {text}",
    "Translate into French: {text}", "Is the following statement true? {text}", "Give me feedback on my essay intro: {text}",
    "Write a short story that begins with: {text}", "Explain step by step why {text}", "Help me reply to this email:\n{text}",
    "How do I {word} a {word} in {language}?", "What is the difference between {word} and {word}?",
    "List five facts about {word}.", "Write a SQL query that returns the {statistic} {column} from a {dataset} table.",
    "My {language} code prints an error about {word}. What could cause it?", "Proofread: {text}",
    "Make a study plan for {subject} for the next two weeks.", "Draft a tweet about {word}.",
    "Solve this: {text}", "Explain {subject} to a ten year old.", "Continue this text: {text}"};

const Words kPopularIntents = {"Write a haiku about {x}", "Explain {y} in simple terms", "Give me ten ideas for a {z}",
                               "What is the capital of {w}?", "Tell me a joke about {x}", "Write a poem about {x}",
                               "How does {y} work?", "Plan a {z} for me", "Write a cover letter for a {v} job",
                               "Summarize the history of {w}"};
const Words kPopularX = {"autumn", "the ocean", "cats", "coffee", "friendship", "the moon", "programmers", "rain", "mountains"};
const Words kPopularY = {"quantum computing", "blockchain", "inflation", "machine learning", "black holes", "vaccines",
                         "the stock market", "photosynthesis", "neural networks"};
const Words kPopularZ = {"birthday party", "weekend trip", "team building day", "wedding toast", "small garden", "podcast"};
const Words kPopularW = {"France", "Japan", "Brazil", "Canada", "Egypt", "Australia", "Rome", "India"};
const Words kPopularV = {"software engineer", "teacher", "nurse", "marketing", "data analyst", "barista"};

const std::array<std::string_view, 3> kPluginWrappers = {
    "You are CodeAssist, an AI pair programmer inside the user's editor. Answer concisely. Prefer minimal diffs. When "
    "you show code, use fenced blocks with the language name. Do not invent APIs; if unsure, say so. The user's open "
    "file and selection follow.",
    "You are CodeAssist 2, an AI pair programmer embedded in the IDE. Keep answers short and precise, show code in "
    "fenced blocks, follow the project's existing style, and never fabricate library functions. Context from the "
    "editor follows.",
    "System: CodeAssist (enterprise). You assist developers in their IDE. Be concise, give working code in fenced "
    "blocks, respect the repository's conventions and licences, and say when you are not sure. Editor context:"};
const Words kPluginRequests = {"Explain this function.", "Add error handling.", "Write unit tests for this.",
                               "Why does this fail on empty input?", "Make this faster.", "Add type hints.",
                               "Rename the variables to be clearer.", "Convert this to async.", "Add docstrings.",
                               "Find the bug."};

const Words kBatchTemplates = {
    "Classify the sentiment of the following customer review as positive, negative or neutral. Reply with one word.\nReview: {sentence}",
    "Extract every company name, person name and date from the text below and return them as JSON.\nText: {sentence}",
    "Translate the following support message into English, then summarise it in one sentence.\nMessage: {sentence}",
    "Assign one category (billing, shipping, technical, other) to this ticket and give a one-line reason.\nTicket: {sentence}",
    "Rewrite the product description below in a friendly tone, at most 40 words.\nDescription: {sentence}"};

std::string paraphrase(const std::string& text, RandomDraws& random, double rate) {
  std::string out = text;
  for (const Words& group : kParaphrases) {
    const std::string_view canonical = group.front();
    std::size_t at = 0;
    while ((at = out.find(canonical, at)) != std::string::npos) {
      const auto word_character = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '{' || c == '}';
      };
      const bool whole_word = (at == 0 || !word_character(out[at - 1])) &&
                              (at + canonical.size() >= out.size() || !word_character(out[at + canonical.size()]));
      if (whole_word && random.chance(rate)) {
        const std::string_view chosen = group[1 + random.below(group.size() - 1)];
        out.replace(at, canonical.size(), chosen);
        at += chosen.size();
      } else {
        at += canonical.size();
      }
    }
  }
  return out;
}

std::string_view pick(const Words& words, RandomDraws& random) { return words[random.below(words.size())]; }

}  // namespace

PromptFactory::PromptFactory(const SimulatedText& text, std::uint64_t seed) : text_(text), seed_(seed) {
  // The popular prompts: every intent with every filler, in a fixed shuffled order (rank = popularity).
  for (const std::string_view intent : kPopularIntents) {
    const Words* fillers = intent.find("{x}") != std::string_view::npos   ? &kPopularX
                           : intent.find("{y}") != std::string_view::npos ? &kPopularY
                           : intent.find("{z}") != std::string_view::npos ? &kPopularZ
                           : intent.find("{w}") != std::string_view::npos ? &kPopularW
                                                                          : &kPopularV;
    for (const std::string_view filler : *fillers) {
      std::string prompt(intent);
      const std::size_t open = prompt.find('{');
      prompt.replace(open, 3, filler);
      popular_.push_back(prompt);
    }
  }
  RandomDraws shuffle(seed_, "popular-order");
  for (std::size_t i = popular_.size(); i > 1; --i) std::swap(popular_[i - 1], popular_[shuffle.below(i)]);
}

std::string PromptFactory::code_snippet(RandomDraws& random) const {
  const std::string name = std::string(text_.word(random)) + "_" + std::string(text_.word(random));
  const std::string a(text_.word(random)), b(text_.word(random)), c(text_.word(random));
  std::string code = "def " + name + "(" + a + ", " + b + "):\n";
  const std::size_t lines = 2 + random.below(7);
  for (std::size_t i = 0; i < lines; ++i) {
    switch (random.below(5)) {
      case 0: code += "    " + c + " = " + a + " * " + std::to_string(random.below(100)) + " + len(" + b + ")\n"; break;
      case 1: code += "    for " + c + " in range(" + a + "):\n        " + b + ".append(" + c + " % " + std::to_string(2 + random.below(9)) + ")\n"; break;
      case 2: code += "    if " + a + " > " + std::to_string(random.below(1000)) + ":\n        raise ValueError(\"" + std::string(text_.word(random)) + "\")\n"; break;
      case 3: code += "    " + b + " = {k: v for k, v in " + b + ".items() if v != " + a + "}\n"; break;
      default: code += "    # " + text_.chain(random, 4 + random.below(8)) + "\n"; break;
    }
  }
  code += "    return " + (random.chance(0.5) ? a : b) + "\n";
  return code;
}

std::string PromptFactory::fill_slots(const std::string& segment, RandomDraws& random) const {
  std::string out;
  std::size_t at = 0;
  while (at < segment.size()) {
    const std::size_t open = segment.find('{', at);
    if (open == std::string::npos) {
      out.append(segment, at, std::string::npos);
      break;
    }
    if (open + 1 < segment.size() && segment[open + 1] == '{') {  // "{{" is a literal brace
      out.append(segment, at, open - at + 1);
      at = open + 2;
      continue;
    }
    const std::size_t close = segment.find('}', open);
    if (close == std::string::npos) {
      out.append(segment, at, std::string::npos);
      break;
    }
    out.append(segment, at, open - at);
    const std::string_view slot(segment.data() + open + 1, close - open - 1);
    if (slot == "payload") {
      out += text_.chain(random, 12 + random.below(30));
    } else if (slot == "text") {
      out += random.chance(0.15) ? std::string(text_.sentence(random)) : text_.chain(random, 8 + random.below(45));
    } else if (slot == "sentence") {
      out += text_.sentence(random);
    } else if (slot == "subject") {
      out += pick(kSubjects, random);
    } else if (slot == "dataset") {
      out += pick(kDatasets, random);
    } else if (slot == "column") {
      out += pick(kColumns, random);
    } else if (slot == "statistic") {
      out += pick(kStatistics, random);
    } else if (slot == "language") {
      out += pick(kLanguages, random);
    } else if (slot == "word") {
      out += text_.word(random);
    } else if (slot == "number") {
      out += std::to_string(random.below(100000));
    } else if (slot == "function") {
      out += std::string(text_.word(random)) + "_" + std::string(text_.word(random)) + "()";
    } else if (slot == "extension") {
      out += pick({"py", "ts", "go", "rs"}, random);
    } else if (slot == "code") {
      out += "```\n" + code_snippet(random) + "```";
    } else if (slot == "tools") {
      const std::size_t count = 2 + random.below(4);
      for (std::size_t i = 0; i < count; ++i) out += (i ? ", " : "") + std::string(pick(kTools, random));
    } else {
      out.append(segment, open, close - open + 1);
    }
    at = close + 1;
  }
  return out;
}

SimulatedPrompt PromptFactory::general(RandomDraws& random, double popular_share) const {
  if (random.chance(popular_share)) {
    // Zipf over the popular list: the head is sent by very many strangers.
    const double u = random.uniform();
    const auto rank = static_cast<std::size_t>(std::pow(static_cast<double>(popular_.size()) + 1.0, u)) - 1;
    return {"", popular_[std::min(rank, popular_.size() - 1)], true};
  }
  std::string framing(pick(kGeneralFramings, random));
  return {"", fill_slots(framing, random), !random.chance(0.1)};
}

SimulatedPrompt PromptFactory::coding_assistant(RandomDraws& random, unsigned plugin_version) const {
  const std::string path = "src/" + std::string(text_.word(random)) + "/" + std::string(text_.word(random)) + ".py";
  return {std::string(kPluginWrappers[plugin_version % kPluginWrappers.size()]),
          "File: " + path + "\n```python\n" + code_snippet(random) + "```\n" + std::string(pick(kPluginRequests, random)), true};
}

SimulatedPrompt PromptFactory::agent_developer(RandomDraws& random, std::uint64_t developer) const {
  // The developer's own schema: a fixed tool list and instruction for this developer.
  RandomDraws own(seed_, "agent-developer", developer);
  std::string tools;
  const std::size_t count = 2 + own.below(4);
  for (std::size_t i = 0; i < count; ++i) {
    tools += (i ? ", " : "") + std::string(text_.word(own)) + "_" + std::string(pick(kTools, own));
  }
  const std::string system = "You are " + std::string(text_.word(own)) + "bot, an assistant for the " +
                             std::string(text_.word(own)) + " team. Tools available: " + tools +
                             ". Answer in JSON with fields action and input.";
  return {system, "User request: " + text_.chain(random, 6 + random.below(20)), true};
}

SimulatedPrompt PromptFactory::batch(RandomDraws& random, std::uint64_t customer) const {
  RandomDraws own(seed_, "batch-customer", customer);
  const std::string frame(pick(kBatchTemplates, own));
  const std::string tag = "[" + std::string(text_.word(own)) + "-" + std::to_string(own.below(1000)) + "] ";
  return {"", tag + fill_slots(frame, random), own.chance(0.5)};
}

std::vector<CampaignTemplate> PromptFactory::campaign_templates(Capability target, std::size_t count,
                                                                std::uint64_t operator_seed) const {
  std::vector<CampaignTemplate> templates;
  RandomDraws random(seed_ ^ operator_seed, "campaign-templates", static_cast<std::uint64_t>(target));
  for (std::size_t i = 0; i < count; ++i) {
    CampaignTemplate t;
    t.target = target;
    // A template-specific marker phrase (the operator's generator numbers its task families), so
    // templates differ even when they draw the same bank entries.
    const std::string family = std::string(text_.word(random)) + " " + std::string(text_.word(random));
    switch (target) {
      case Capability::reasoning:
      case Capability::other: {
        const std::string role(pick(kReasoningRoles, random));
        if (!role.empty()) t.system_segments.push_back(role);
        t.user_segments.push_back(std::string(pick(kReasoningInstructions, random)));
        t.user_segments.push_back("Topic family: " + family + ".");
        t.user_segments.push_back(std::string(pick(kReasoningBodies, random)));
        const std::string closer(pick(kReasoningClosers, random));
        if (!closer.empty()) t.user_segments.push_back(closer);
        break;
      }
      case Capability::tool_use:
        t.system_segments.push_back(std::string(pick(kToolSystems, random)));
        t.user_segments.push_back("Workflow " + family + ".");
        t.user_segments.push_back(std::string(pick(kToolTasks, random)));
        if (random.chance(0.5)) t.user_segments.push_back("Use the tools step by step and return the final answer as JSON.");
        break;
      case Capability::coding:
        t.system_segments.push_back(std::string(pick(kCodingSystems, random)));
        t.user_segments.push_back("Ticket " + family + ":");
        t.user_segments.push_back(std::string(pick(kCodingTasks, random)));
        if (random.chance(0.5)) t.user_segments.push_back("Plan the change first, then implement it and run the tests.");
        break;
    }
    templates.push_back(std::move(t));
  }
  return templates;
}

SimulatedPrompt PromptFactory::campaign(const CampaignTemplate& chosen, RandomDraws& random, double paraphrase_rate) const {
  SimulatedPrompt prompt;
  for (const std::string& segment : chosen.system_segments) {
    if (!prompt.system.empty()) prompt.system.push_back(' ');
    prompt.system += fill_slots(paraphrase(segment, random, paraphrase_rate), random);
  }
  for (const std::string& segment : chosen.user_segments) {
    if (!prompt.user.empty()) prompt.user.push_back(' ');
    prompt.user += fill_slots(paraphrase(segment, random, paraphrase_rate), random);
  }
  return prompt;
}

}  // namespace tracemark::campaigns
