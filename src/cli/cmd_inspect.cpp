// deepkb info / tokenize / logits: look inside a model.
#include <cstdio>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/thread_pool.h"
#include "commands.h"
#include "engine/context.h"
#include "model_options.h"

namespace dkb::cli {
namespace {

std::string shape_str(const std::vector<int64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

std::string value_str(const gguf::Value& v) {
  if (v.is_string()) {
    const std::string& s = *v.as_string();
    return s.size() > 120 ? nlohmann::json(s.substr(0, 120)).dump() + "… (" +
                                std::to_string(s.size()) + " bytes)"
                          : nlohmann::json(s).dump();
  }
  if (v.is_array()) {
    return std::string(gguf::value_type_name(v.array_type())) + "[" +
           std::to_string(v.array_size()) + "]";
  }
  if (auto b = v.as_bool()) return *b ? "true" : "false";
  if (v.is_float()) return std::to_string(*v.as_float());
  if (auto i = v.as_int()) return std::to_string(*i);
  if (auto u = v.as_uint()) return std::to_string(*u);
  return "?";
}

std::vector<int32_t> parse_ids(const std::string& s, bool* ok) {
  std::vector<int32_t> ids;
  std::stringstream ss(s);
  std::string item;
  *ok = true;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      long v = std::stol(item, &used);
      if (used != item.size()) *ok = false;
      ids.push_back(static_cast<int32_t>(v));
    } catch (...) {
      *ok = false;
    }
  }
  return ids;
}

}  // namespace

Runner add_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  app.add_option("model", *path, "GGUF file")->required();
  return [path]() -> int {
    auto file = gguf::File::open(*path);
    if (!file.is_ok()) return fail(file.status().to_string());
    std::printf("file: %s (GGUF v%u, %zu bytes)\n", path->c_str(), file->version(),
                file->file_size());
    std::printf("metadata:\n");
    for (const auto& [k, v] : file->metadata()) std::printf("  %s = %s\n", k.c_str(), value_str(v).c_str());
    std::map<std::string, std::pair<int, size_t>> by_type;
    std::printf("tensors (%zu):\n", file->tensors().size());
    for (const auto& t : file->tensors()) {
      std::printf("  %-40s %-6s %s\n", t.name.c_str(), std::string(tensor_type_name(t.type)).c_str(),
                  shape_str(t.ne).c_str());
      auto& e = by_type[std::string(tensor_type_name(t.type))];
      ++e.first;
      e.second += t.n_bytes;
    }
    std::printf("tensor types:\n");
    for (const auto& [name, e] : by_type) {
      std::printf("  %-6s %4d tensors %10.2f MiB\n", name.c_str(), e.first, e.second / 1048576.0);
    }
    auto model = engine::Model::load(*path);
    if (!model.is_ok()) {
      std::printf("model: cannot load: %s\n", model.status().to_string().c_str());
      return 1;
    }
    const auto& hp = (*model)->hparams();
    const auto& tok = (*model)->tokenizer();
    std::printf("model: arch %s, n_vocab %lld, n_ctx_train %lld, n_embd %lld, n_layer %lld, "
                "n_head %lld, n_head_kv %lld, n_ff %lld, n_rot %lld\n",
                hp.arch.c_str(), (long long)hp.n_vocab, (long long)hp.n_ctx_train,
                (long long)hp.n_embd, (long long)hp.n_layer, (long long)hp.n_head,
                (long long)hp.n_head_kv, (long long)hp.n_ff, (long long)hp.n_rot);
    std::printf("vocab: %s (pre: %s), %d tokens, bos %d, eos %d\n",
                std::string(tok.model_name()).c_str(), std::string(tok.pre_name()).c_str(),
                tok.n_vocab(), tok.bos(), tok.eos());
    if ((*model)->chat_template()) {
      std::printf("chat template:\n%s\n", (*model)->chat_template()->c_str());
    } else {
      std::printf("chat template: none\n");
    }
    return 0;
  };
}

Runner add_tokenize(CLI::App& app) {
  struct Opts {
    ModelOptions model;
    std::string text;
    bool no_bos = false;
    bool ids_only = false;
  };
  auto o = std::make_shared<Opts>();
  o->model.add_to(app);
  app.add_option("text", o->text, "text to tokenize")->required();
  app.add_flag("--no-bos", o->no_bos, "do not add BOS");
  app.add_flag("--ids", o->ids_only, "print only a JSON array of ids");
  return [o]() -> int {
    auto model = o->model.load();
    if (!model.is_ok()) return fail(model.status().to_string());
    const auto& tok = (*model)->tokenizer();
    auto ids = tok.encode(o->text, {.add_special = !o->no_bos, .parse_special = true});
    if (o->ids_only) {
      std::printf("%s\n", nlohmann::json(ids).dump().c_str());
      return 0;
    }
    for (int32_t id : ids) {
      std::string piece = tok.token_to_piece(id, true);
      std::printf("%6d -> %s\n", id, nlohmann::json(piece).dump(-1, ' ', false,
                                                      nlohmann::json::error_handler_t::replace).c_str());
    }
    return 0;
  };
}

Runner add_logits(CLI::App& app) {
  struct Opts {
    ModelOptions model;
    std::string tokens;
    std::string prompt;
  };
  auto o = std::make_shared<Opts>();
  o->model.add_to(app);
  app.add_option("--tokens", o->tokens, "comma-separated token ids");
  app.add_option("-p,--prompt", o->prompt, "text to tokenize (with BOS) instead of --tokens");
  return [o]() -> int {
    auto model = o->model.load();
    if (!model.is_ok()) return fail(model.status().to_string());
    std::vector<int32_t> ids;
    if (!o->tokens.empty()) {
      bool ok = false;
      ids = parse_ids(o->tokens, &ok);
      if (!ok) return fail("--tokens must be comma-separated integers, got '" + o->tokens + "'");
    } else if (!o->prompt.empty()) {
      ids = (*model)->tokenizer().encode(o->prompt, {.add_special = true, .parse_special = true});
    } else {
      return fail("give --tokens or --prompt");
    }
    ThreadPool pool(o->model.threads);
    engine::Context ctx(*model, pool,
                        {.n_ctx = o->model.ctx_size, .kv_f16 = o->model.load_flags.kv_f16()});
    Status s = ctx.eval(ids, /*all_logits=*/true);
    if (!s.is_ok()) return fail(s.to_string());
    nlohmann::json out;
    out["tokens"] = ids;
    out["n_vocab"] = ctx.n_vocab();
    nlohmann::json rows = nlohmann::json::array();
    for (size_t i = 0; i < ids.size(); ++i) {
      const float* l = ctx.logits(static_cast<int64_t>(i));
      rows.push_back(std::vector<float>(l, l + ctx.n_vocab()));
    }
    out["logits"] = std::move(rows);
    std::printf("%s\n", out.dump().c_str());
    return 0;
  };
}

}  // namespace dkb::cli
