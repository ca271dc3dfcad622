/*
 * hybridwatch TEST TOOLING (not product code): fills the gaps of Elasticsearch's
 * "integ-test-zip" distribution, the only runnable Elasticsearch on Maven Central, so
 * the store can be tested against a real Elasticsearch node (deploy/local/elasticsearch.sh).
 *
 *   GET /                  the root info document (the rest-root module is not in the zip;
 *                          elasticsearch-py's info() and hybridwatch's engine check read it)
 *   char_filter  mapping   org.apache.lucene.analysis.charfilter.MappingCharFilter
 *   tokenizer    pattern   org.apache.lucene.analysis.pattern.PatternTokenizer
 *   filter       asciifolding  org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter
 *   analyzer     english   org.apache.lucene.analysis.en.EnglishAnalyzer
 *
 * and, for `elasticsearch.sh start --secure` (x-pack security's own system indices,
 * .security-7 with API keys and .security-profile, declare an "email" analyzer built
 * from these analysis-common types; without them no API key can be created):
 *   tokenizer    uax_url_email    org.apache.lucene.analysis.email.UAX29URLEmailTokenizer
 *   filter       pattern_capture  org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter
 *   filter       lowercase        org.apache.lucene.analysis.LowerCaseFilter
 *   filter       unique           drops a term seen before in the stream (analysis-common's
 *                                 `unique` with only_on_same_position false, the default)
 *
 * The analysis types behave as analysis-common's (same Lucene classes, same settings
 * names: mappings; pattern/group/flags; preserve_original; patterns) for the settings
 * hybridwatch and x-pack security use; anything else is refused with a clear error. Compiled once by elasticsearch.sh
 * with the JDK's javac against the jars in the distribution's lib/.
 */
package hybridwatch.testtooling;

import java.io.IOException;
import java.io.Reader;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.charfilter.MappingCharFilter;
import org.apache.lucene.analysis.charfilter.NormalizeCharMap;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.pattern.PatternCaptureGroupTokenFilter;
import org.apache.lucene.analysis.pattern.PatternTokenizer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterName;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.analysis.AbstractCharFilterFactory;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.CharFilterFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;

public final class TestToolingPlugin extends Plugin implements ActionPlugin, AnalysisPlugin {

    private final Settings settings;
    private volatile ClusterService clusterService;

    public TestToolingPlugin(Settings settings) {
        this.settings = settings;
    }

    @Override
    public Collection<?> createComponents(PluginServices services) {
        this.clusterService = services.clusterService();
        return List.of();
    }

    // -- GET / ---------------------------------------------------------------------------

    @Override
    public Collection<RestHandler> getRestHandlers(
        RestHandlersServices services,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(new RootHandler());
    }

    private static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : (s == null ? "" : s).toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    private final class RootHandler extends BaseRestHandler {
        @Override
        public String getName() {
            return "hybridwatch_test_root";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            Build build = Build.current();
            ClusterService cs = clusterService;
            String uuid = cs == null ? "_na_" : cs.state().metadata().clusterUUID();
            String body = "{"
                + "\"name\":" + q(Node.NODE_NAME_SETTING.get(settings)) + ","
                + "\"cluster_name\":" + q(ClusterName.CLUSTER_NAME_SETTING.get(settings).value()) + ","
                + "\"cluster_uuid\":" + q(uuid) + ","
                + "\"version\":{"
                + "\"number\":" + q(build.qualifiedVersion()) + ","
                + "\"build_flavor\":" + q(build.flavor()) + ","
                + "\"build_type\":" + q(build.type().displayName()) + ","
                + "\"build_hash\":" + q(build.hash()) + ","
                + "\"build_date\":" + q(build.date()) + ","
                + "\"build_snapshot\":" + build.isSnapshot() + ","
                + "\"lucene_version\":" + q(org.apache.lucene.util.Version.LATEST.toString()) + ","
                + "\"minimum_wire_compatibility_version\":" + q(build.minWireCompatVersion()) + ","
                + "\"minimum_index_compatibility_version\":" + q(build.minIndexCompatVersion())
                + "},"
                + "\"tagline\":\"You Know, for Search\""
                + "}";
            return channel -> channel.sendResponse(new RestResponse(RestStatus.OK, "application/json; charset=UTF-8", body));
        }
    }

    // -- analysis --------------------------------------------------------------------------

    private static void onlyKnown(String what, String name, Settings s, String... known) {
        for (String key : s.keySet()) {
            if (key.equals("type") || key.startsWith("index.")) continue; // index.version.created & co
            boolean ok = false;
            for (String k : known) ok |= key.equals(k) || key.startsWith(k + ".");
            if (!ok) {
                throw new IllegalArgumentException(
                    what + " [" + name + "]: setting [" + key + "] is not supported by the hybridwatch test-tooling plugin"
                );
            }
        }
    }

    /** analysis-common's rule syntax: `src => dst`, with \\uXXXX, \\n, \\t, \\r, \\b, \\f, \\\\ escapes. */
    static String unescape(String s) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) {
                out.append(c);
                continue;
            }
            char n = s.charAt(++i);
            switch (n) {
                case 'u' -> {
                    if (i + 4 >= s.length()) throw new IllegalArgumentException("truncated \\u escape in [" + s + "]");
                    out.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                case 'n' -> out.append('\n');
                case 't' -> out.append('\t');
                case 'r' -> out.append('\r');
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                default -> out.append(n);
            }
        }
        return out.toString();
    }

    static NormalizeCharMap parseMappings(String name, List<String> rules) {
        NormalizeCharMap.Builder b = new NormalizeCharMap.Builder();
        for (String rule : rules) {
            int at = rule.indexOf("=>");
            if (at < 0) {
                throw new IllegalArgumentException("char_filter [" + name + "]: invalid mapping rule [" + rule + "] (expected src => dst)");
            }
            String src = unescape(rule.substring(0, at).strip());
            String dst = unescape(rule.substring(at + 2).strip());
            if (src.isEmpty()) {
                throw new IllegalArgumentException("char_filter [" + name + "]: empty source in mapping rule [" + rule + "]");
            }
            b.add(src, dst);
        }
        return b.build();
    }

    @Override
    public Map<String, AnalysisProvider<CharFilterFactory>> getCharFilters() {
        return Map.of("mapping", AnalysisPlugin.requiresAnalysisSettings((indexSettings, env, name, s) -> {
            onlyKnown("char_filter", name, s, "mappings");
            List<String> rules = s.getAsList("mappings");
            if (rules.isEmpty()) {
                throw new IllegalArgumentException("char_filter [" + name + "]: mapping requires [mappings]");
            }
            NormalizeCharMap map = parseMappings(name, rules);
            return new AbstractCharFilterFactory(name) {
                @Override
                public Reader create(Reader reader) {
                    return new MappingCharFilter(map, reader);
                }

                @Override
                public Reader normalize(Reader reader) {
                    return new MappingCharFilter(map, reader);
                }
            };
        }));
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("pattern", (indexSettings, env, name, s) -> {
            onlyKnown("tokenizer", name, s, "pattern", "group");
            Pattern pattern = Pattern.compile(s.get("pattern", "\\W+"));
            int group = s.getAsInt("group", -1);
            return new AbstractTokenizerFactory(name) {
                @Override
                public Tokenizer create() {
                    return new PatternTokenizer(pattern, group);
                }
            };
        }, "uax_url_email", (indexSettings, env, name, s) -> {
            onlyKnown("tokenizer", name, s, "max_token_length");
            int max = s.getAsInt("max_token_length", 255 /* StandardAnalyzer.DEFAULT_MAX_TOKEN_LENGTH */);
            return new AbstractTokenizerFactory(name) {
                @Override
                public Tokenizer create() {
                    UAX29URLEmailTokenizer t = new UAX29URLEmailTokenizer();
                    t.setMaxTokenLength(max);
                    return t;
                }
            };
        });
    }

    /** analysis-common's `unique` (only_on_same_position false): a term seen earlier in the stream is dropped. */
    static final class UniqueFilter extends TokenFilter {
        private final CharTermAttribute term = addAttribute(CharTermAttribute.class);
        private final CharArraySet seen = new CharArraySet(8, false);

        UniqueFilter(TokenStream in) {
            super(in);
        }

        @Override
        public boolean incrementToken() throws IOException {
            while (input.incrementToken()) {
                char[] buf = term.buffer();
                int len = term.length();
                if (!seen.contains(buf, 0, len)) {
                    char[] copy = new char[len];
                    System.arraycopy(buf, 0, copy, 0, len);
                    seen.add(copy);
                    return true;
                }
            }
            return false;
        }

        @Override
        public void reset() throws IOException {
            super.reset();
            seen.clear();
        }
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of("pattern_capture", AnalysisPlugin.requiresAnalysisSettings((indexSettings, env, name, s) -> {
            onlyKnown("filter", name, s, "patterns", "preserve_original");
            List<String> regexes = s.getAsList("patterns");
            if (regexes.isEmpty()) {
                throw new IllegalArgumentException("filter [" + name + "]: pattern_capture requires [patterns]");
            }
            Pattern[] patterns = regexes.stream().map(Pattern::compile).toArray(Pattern[]::new);
            boolean preserve = s.getAsBoolean("preserve_original", true);
            return new AbstractTokenFilterFactory(name) {
                @Override
                public TokenStream create(TokenStream stream) {
                    return new PatternCaptureGroupTokenFilter(stream, preserve, patterns);
                }
            };
        }), "lowercase", (indexSettings, env, name, s) -> {
            onlyKnown("filter", name, s);
            return new AbstractTokenFilterFactory(name) {
                @Override
                public TokenStream create(TokenStream stream) {
                    return new LowerCaseFilter(stream);
                }

                @Override
                public TokenStream normalize(TokenStream stream) {
                    return new LowerCaseFilter(stream);
                }
            };
        }, "unique", (indexSettings, env, name, s) -> {
            onlyKnown("filter", name, s, "only_on_same_position");
            if (s.getAsBoolean("only_on_same_position", false)) {
                throw new IllegalArgumentException("filter [" + name + "]: only_on_same_position is not supported by the hybridwatch test-tooling plugin");
            }
            return new AbstractTokenFilterFactory(name) {
                @Override
                public TokenStream create(TokenStream stream) {
                    return new UniqueFilter(stream);
                }
            };
        }, "asciifolding", (indexSettings, env, name, s) -> {
            onlyKnown("filter", name, s, "preserve_original");
            boolean preserve = s.getAsBoolean("preserve_original", false);
            return new AbstractTokenFilterFactory(name) {
                @Override
                public TokenStream create(TokenStream stream) {
                    return new ASCIIFoldingFilter(stream, preserve);
                }

                @Override
                public TokenStream normalize(TokenStream stream) {
                    return new ASCIIFoldingFilter(stream, preserve);
                }
            };
        });
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of("english", (indexSettings, env, name, s) -> {
            onlyKnown("analyzer", name, s);
            EnglishAnalyzer analyzer = new EnglishAnalyzer();
            return new AbstractIndexAnalyzerProvider<EnglishAnalyzer>(name) {
                @Override
                public EnglishAnalyzer get() {
                    return analyzer;
                }
            };
        });
    }
}
