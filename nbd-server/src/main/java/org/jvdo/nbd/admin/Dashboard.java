package org.jvdo.nbd.admin;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The web dashboard at {@code /ui}: one HTML page, one script and one style sheet of jvdo's, and
 * uPlot (the charts, from its webjar on the class path), all served from the jar so the page
 * fetches nothing from elsewhere. The page polls the JSON API (stats, volumes, each volume's
 * stats) every second with GETs only and draws what it reads; it writes nothing.
 *
 * <p><b>How the token reaches the API.</b> The page is a static shell that holds no figure, so
 * its five files are served without the token (like {@code /health}); every figure comes from
 * the API, which answers 401 without it. The shell takes the token from the URL fragment
 * ({@code /ui#token=...}, which a browser never sends to a server, so it is in no request, log
 * or {@code Referer}) or from a form, keeps it in the tab's {@code sessionStorage} (gone when the
 * tab closes; the fragment is removed from the address bar at once) and sends it as
 * {@code Authorization: Bearer} on each {@code fetch()}. No cookie, on purpose: a cookie is
 * attached by the browser to requests other sites can trigger, so it would need CSRF care, a
 * login route and a second way into {@link AdminServer#authenticate}; a header only the page's
 * own script sets needs none of that, and the API's check stays the one it was.
 *
 * <p>Every file is answered with a {@code Content-Security-Policy} allowing scripts, styles and
 * connections to this origin only ({@code script-src 'self'}, no inline script or style, no
 * frames), {@code X-Content-Type-Options: nosniff}, {@code Referrer-Policy: no-referrer} and
 * {@code Cache-Control: no-cache}. ({@code img-src data:} is for the page's empty icon, which spares a
 * {@code /favicon.ico} request that would be answered 401.)
 */
final class Dashboard {
    static final String PREFIX = "/ui";
    static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            + "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /** A file served at {@code path}: its bytes, read once from the class path, and type. */
    private record Asset(String path, String contentType, byte[] bytes) { }

    private final List<Asset> assets;

    /** Reads the page's files from the class path; fails (naming the file) when one is missing from the jar. */
    Dashboard() {
        String uplot = "META-INF/resources/webjars/uplot/" + uplotVersion() + "/dist/";
        ClassLoader cl = Dashboard.class.getClassLoader();
        String own = "org/jvdo/nbd/admin/ui/";
        assets = List.of(
                new Asset(PREFIX, "text/html; charset=utf-8", read(cl, own + "index.html")),
                new Asset(PREFIX + "/dashboard.js", "text/javascript; charset=utf-8", read(cl, own + "dashboard.js")),
                new Asset(PREFIX + "/dashboard.css", "text/css; charset=utf-8", read(cl, own + "dashboard.css")),
                new Asset(PREFIX + "/uPlot.iife.min.js", "text/javascript; charset=utf-8", read(cl, uplot + "uPlot.iife.min.js")),
                new Asset(PREFIX + "/uPlot.min.css", "text/css; charset=utf-8", read(cl, uplot + "uPlot.min.css")));
    }

    /** The uPlot webjar's version, from its Maven properties (so the pom alone names it). */
    static String uplotVersion() {
        String file = "META-INF/maven/org.webjars.npm/uplot/pom.properties";
        try (InputStream in = Dashboard.class.getClassLoader().getResourceAsStream(file)) {
            if (in == null) throw new IllegalStateException(file + " missing from the class path (the uplot webjar)");
            Properties p = new Properties();
            p.load(in);
            String v = p.getProperty("version");
            if (v == null || !v.matches("[0-9A-Za-z.\\-]+")) throw new IllegalStateException(file + ": no valid version");
            return v;
        } catch (IOException e) {
            throw new IllegalStateException(file + ": " + e.getMessage(), e);
        }
    }

    private static byte[] read(ClassLoader cl, String name) {
        try (InputStream in = cl.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("the dashboard's " + name + " is missing from the class path");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException(name + ": " + e.getMessage(), e);
        }
    }

    /** The dashboard's routes, one GET per file, for {@link AdminServer#routes()}. */
    List<AdminServer.RouteSpec> routes() {
        List<AdminServer.RouteSpec> out = new ArrayList<>();
        for (Asset a : assets) out.add(new AdminServer.RouteSpec(HttpMethod.GET, a.path(), ctx -> serve(ctx, a)));
        return out;
    }

    /**
     * True for exactly the dashboard's files, which hold no figure and are served without the
     * token. Give it the path the router matches ({@code RoutingContext.normalizedPath()}), never
     * the raw one: {@code /ui/../api/v1/stats} begins like a file of the dashboard and is routed
     * to the statistics.
     */
    boolean isPublic(String normalizedPath) {
        for (Asset a : assets) if (a.path().equals(normalizedPath)) return true;
        return false;
    }

    private static void serve(RoutingContext ctx, Asset a) {
        HttpServerResponse r = ctx.response().setStatusCode(200)
                .putHeader("Content-Type", a.contentType())
                .putHeader("Content-Length", String.valueOf(a.bytes().length))
                .putHeader("Content-Security-Policy", CSP)
                .putHeader("X-Content-Type-Options", "nosniff")
                .putHeader("Referrer-Policy", "no-referrer")
                .putHeader("Cache-Control", "no-cache");
        if (ctx.request().method() == HttpMethod.HEAD) r.end();
        else r.end(Buffer.buffer(a.bytes()));
    }
}
