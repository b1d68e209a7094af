package org.slf4j.impl;

import java.lang.reflect.Proxy;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.ILoggerFactory;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.helpers.FormattingTuple;
import org.slf4j.helpers.MessageFormatter;
import org.slf4j.spi.LoggerFactoryBinder;

/**
 * A minimal SLF4J 1.7 binding for the integration tests: the Kafka client's log lines go to stderr,
 * which the pytest harness shows when a test fails. The wheel that carries kafka-clients ships
 * slf4j-api without any binding (which would silence the client entirely).
 *
 * <p>Level: env SLUICE_JAVA_LOG (trace|debug|info|warn|error, default info). The INFO-level dumps of
 * every client config (…Config, AppInfoParser) are dropped below WARN to keep the output readable.
 */
public class StaticLoggerBinder implements LoggerFactoryBinder {
    public static String REQUESTED_API_VERSION = "1.6.99";
    private static final StaticLoggerBinder SINGLETON = new StaticLoggerBinder();
    private final ILoggerFactory factory = new StderrLoggerFactory();

    public static StaticLoggerBinder getSingleton() {
        return SINGLETON;
    }

    @Override
    public ILoggerFactory getLoggerFactory() {
        return factory;
    }

    @Override
    public String getLoggerFactoryClassStr() {
        return StderrLoggerFactory.class.getName();
    }

    static final class StderrLoggerFactory implements ILoggerFactory {
        private static final int THRESHOLD = level(System.getenv().getOrDefault("SLUICE_JAVA_LOG", "info"));
        private final Map<String, Logger> loggers = new ConcurrentHashMap<>();

        static int level(String name) {
            switch (name.toLowerCase(Locale.ROOT)) {
                case "trace": return 0;
                case "debug": return 1;
                case "info": return 2;
                case "warn": return 3;
                default: return 4;
            }
        }

        @Override
        public Logger getLogger(String name) {
            return loggers.computeIfAbsent(name, StderrLoggerFactory::create);
        }

        private static Logger create(String name) {
            boolean noisy = name.endsWith("Config") || name.endsWith("AppInfoParser");
            int threshold = noisy ? Math.max(THRESHOLD, 3) : THRESHOLD;
            String shortName = name.substring(name.lastIndexOf('.') + 1);
            return (Logger) Proxy.newProxyInstance(
                    Logger.class.getClassLoader(),
                    new Class<?>[] {Logger.class},
                    (proxy, method, args) -> {
                        String m = method.getName();
                        if (m.equals("getName")) return name;
                        if (m.equals("toString")) return "StderrLogger(" + name + ")";
                        if (m.equals("hashCode")) return System.identityHashCode(proxy);
                        if (m.equals("equals")) return proxy == args[0];
                        if (m.startsWith("is") && m.endsWith("Enabled")) {
                            return level(m.substring(2, m.length() - 7)) >= threshold;
                        }
                        int lvl = level(m);
                        if (lvl < threshold || args == null || args.length == 0) return null;
                        int i = args[0] instanceof Marker ? 1 : 0;
                        String fmt = String.valueOf(args[i]);
                        Object[] rest;
                        if (args.length - i - 1 == 1 && args[i + 1] instanceof Object[]) {
                            rest = (Object[]) args[i + 1];
                        } else {
                            rest = new Object[args.length - i - 1];
                            System.arraycopy(args, i + 1, rest, 0, rest.length);
                        }
                        FormattingTuple t = MessageFormatter.arrayFormat(fmt, rest);
                        StringBuilder sb = new StringBuilder();
                        sb.append(String.format("%tT.%<tL ", System.currentTimeMillis()))
                          .append(m.toUpperCase(Locale.ROOT)).append(' ')
                          .append(Thread.currentThread().getName()).append(' ')
                          .append(shortName).append(": ").append(t.getMessage());
                        Throwable th = t.getThrowable();
                        if (th == null && rest.length > 0 && rest[rest.length - 1] instanceof Throwable) {
                            th = (Throwable) rest[rest.length - 1];
                        }
                        if (th != null) sb.append(" | ").append(th);
                        System.err.println(sb);
                        return null;
                    });
        }
    }
}
