#include "leiden_communities.hpp"

#include <dlfcn.h>
#include <igraph.h>
#include <string>

#include "tracemark/error.hpp"

namespace tracemark::campaigns {
namespace {

// igraph is loaded when communities are first needed, not linked into the program: libigraph
// loads BLAS, LAPACK and ARPACK, and a threaded BLAS (OpenBLAS) starts worker threads when it is
// loaded, before main(), with every signal unblocked. Linked, that would let SIGTERM kill `tracemark
// serve` instead of stopping it cleanly (serve takes its signals on one thread with all others
// blocking them). The table is filled once and never changes after.
class IgraphLibrary {
 public:
  static const IgraphLibrary& get() {
    static const IgraphLibrary library;  // thread-safe initialisation; immutable afterwards
    return library;
  }

  decltype(&igraph_vector_int_init) vector_int_init = nullptr;
  decltype(&igraph_vector_int_destroy) vector_int_destroy = nullptr;
  decltype(&igraph_vector_init) vector_init = nullptr;
  decltype(&igraph_vector_destroy) vector_destroy = nullptr;
  decltype(&igraph_create) create = nullptr;
  decltype(&igraph_destroy) destroy = nullptr;
  decltype(&igraph_strength) strength = nullptr;
  decltype(&igraph_vss_all) vss_all = nullptr;
  decltype(&igraph_rng_init) rng_init = nullptr;
  decltype(&igraph_rng_seed) rng_seed = nullptr;
  decltype(&igraph_rng_destroy) rng_destroy = nullptr;
  decltype(&igraph_rng_default) rng_default = nullptr;
  decltype(&igraph_rng_set_default) rng_set_default = nullptr;
  decltype(&igraph_community_leiden) community_leiden = nullptr;
  decltype(&igraph_set_error_handler) set_error_handler = nullptr;
  decltype(&igraph_strerror) strerror = nullptr;
  decltype(&igraph_version) version = nullptr;
  igraph_error_handler_t* error_handler_ignore = nullptr;
  const igraph_rng_type_t* rngtype_pcg32 = nullptr;

 private:
  IgraphLibrary() {
    handle_ = ::dlopen("libigraph.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      const char* why = ::dlerror();
      throw Error(ErrorCode::io, std::string("cannot load the igraph library (libigraph.so.3) for community detection: ") +
                                     (why ? why : "unknown reason") + "; install Debian's libigraph3 (./tools/setup.sh installs libigraph-dev)");
    }
    load(vector_int_init, "igraph_vector_int_init");
    load(vector_int_destroy, "igraph_vector_int_destroy");
    load(vector_init, "igraph_vector_init");
    load(vector_destroy, "igraph_vector_destroy");
    load(create, "igraph_create");
    load(destroy, "igraph_destroy");
    load(strength, "igraph_strength");
    load(vss_all, "igraph_vss_all");
    load(rng_init, "igraph_rng_init");
    load(rng_seed, "igraph_rng_seed");
    load(rng_destroy, "igraph_rng_destroy");
    load(rng_default, "igraph_rng_default");
    load(rng_set_default, "igraph_rng_set_default");
    load(community_leiden, "igraph_community_leiden");
    load(set_error_handler, "igraph_set_error_handler");
    load(strerror, "igraph_strerror");
    load(version, "igraph_version");
    load(error_handler_ignore, "igraph_error_handler_ignore");
    load(rngtype_pcg32, "igraph_rngtype_pcg32");
    int major = 0, minor = 0, patch = 0;
    const char* text = nullptr;
    version(&text, &major, &minor, &patch);
    if (major != IGRAPH_VERSION_MAJOR || minor != IGRAPH_VERSION_MINOR) {
      throw Error(ErrorCode::unsupported, std::string("libigraph.so.3 is igraph ") + (text ? text : "?") + ", but tracemark was built with " +
                                              IGRAPH_VERSION + "; rebuild tracemark against the installed igraph");
    }
  }
  ~IgraphLibrary() = default;  // left loaded: igraph keeps thread-local state until exit

  template <typename Pointer>
  void load(Pointer& pointer, const char* name) {
    void* symbol = ::dlsym(handle_, name);
    if (!symbol) throw Error(ErrorCode::io, std::string("libigraph.so.3 has no ") + name + "; install igraph 0.10 (Debian 12's libigraph3)");
    pointer = reinterpret_cast<Pointer>(symbol);
  }

  void* handle_ = nullptr;
};

void check(const IgraphLibrary& igraph, igraph_error_t status, const char* what) {
  if (status != IGRAPH_SUCCESS) {
    throw Error(ErrorCode::internal, std::string("igraph failed in ") + what + ": " + igraph.strerror(status));
  }
}

// RAII for igraph's C objects, the seeded generator and the error handler.
struct GraphObjects {
  const IgraphLibrary& igraph;
  igraph_t graph{};
  igraph_vector_int_t edge_list{};
  igraph_vector_t weights{}, strengths{};
  igraph_vector_int_t membership{};
  igraph_rng_t rng{};
  igraph_rng_t* previous_rng = nullptr;
  igraph_error_handler_t* previous_handler = nullptr;
  bool graph_made = false, rng_made = false;
  explicit GraphObjects(const IgraphLibrary& library) : igraph(library) {
    // igraph's default handler aborts the process; errors are returned (and thrown) instead.
    previous_handler = igraph.set_error_handler(igraph.error_handler_ignore);
  }
  ~GraphObjects() {
    if (previous_rng) igraph.rng_set_default(previous_rng);
    if (rng_made) igraph.rng_destroy(&rng);
    if (graph_made) igraph.destroy(&graph);
    igraph.vector_int_destroy(&edge_list);
    igraph.vector_destroy(&weights);
    igraph.vector_destroy(&strengths);
    igraph.vector_int_destroy(&membership);
    igraph.set_error_handler(previous_handler);
  }
  GraphObjects(const GraphObjects&) = delete;
  GraphObjects& operator=(const GraphObjects&) = delete;
};

}  // namespace

std::vector<std::uint32_t> leiden_communities(std::size_t nodes, const std::vector<AccountEdge>& edges, std::uint64_t seed) {
  std::vector<std::uint32_t> community(nodes);
  for (std::size_t i = 0; i < nodes; ++i) community[i] = static_cast<std::uint32_t>(i);
  if (edges.empty() || nodes == 0) return community;
  const IgraphLibrary& igraph = IgraphLibrary::get();
  GraphObjects g(igraph);
  check(igraph, igraph.vector_int_init(&g.edge_list, static_cast<igraph_integer_t>(2 * edges.size())), "vector_int_init");
  check(igraph, igraph.vector_init(&g.weights, static_cast<igraph_integer_t>(edges.size())), "vector_init");
  check(igraph, igraph.vector_init(&g.strengths, 0), "vector_init");
  check(igraph, igraph.vector_int_init(&g.membership, 0), "vector_int_init");
  double total = 0;
  for (std::size_t e = 0; e < edges.size(); ++e) {
    VECTOR(g.edge_list)[2 * e] = edges[e].a;
    VECTOR(g.edge_list)[2 * e + 1] = edges[e].b;
    VECTOR(g.weights)[e] = edges[e].weight();
    total += static_cast<double>(edges[e].weight());
  }
  check(igraph, igraph.create(&g.graph, &g.edge_list, static_cast<igraph_integer_t>(nodes), IGRAPH_UNDIRECTED), "create");
  g.graph_made = true;
  check(igraph, igraph.strength(&g.graph, &g.strengths, igraph.vss_all(), IGRAPH_ALL, IGRAPH_LOOPS, &g.weights), "strength");
  check(igraph, igraph.rng_init(&g.rng, igraph.rngtype_pcg32), "rng_init");
  g.rng_made = true;
  check(igraph, igraph.rng_seed(&g.rng, static_cast<igraph_uint_t>(seed)), "rng_seed");
  g.previous_rng = igraph.rng_default();
  igraph.rng_set_default(&g.rng);
  // Modularity as Leiden's objective: node weights are the strengths, resolution 1 / (2 m).
  igraph_integer_t clusters = 0;
  igraph_real_t quality = 0;
  check(igraph, igraph.community_leiden(&g.graph, &g.weights, &g.strengths, 1.0 / (2.0 * total), 0.01, false, 10, &g.membership,
                                        &clusters, &quality),
        "community_leiden");
  for (std::size_t i = 0; i < nodes; ++i) community[i] = static_cast<std::uint32_t>(VECTOR(g.membership)[static_cast<igraph_integer_t>(i)]);
  return community;
}

}  // namespace tracemark::campaigns
