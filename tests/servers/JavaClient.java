// A Java client as applications write them: HttpsURLConnection, trusting one CA file, nothing else set.
// Prints the HTTP status; exits 1 when the connection fails. Usage: java JavaClient.java URL CA.pem
import java.io.FileInputStream;
import java.net.URL;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class JavaClient {
    public static void main(String[] args) throws Exception {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        int n = 0;
        try (FileInputStream pem = new FileInputStream(args[1])) {
            for (var cert : CertificateFactory.getInstance("X.509").generateCertificates(pem)) {
                trust.setCertificateEntry("ca" + n++, cert);
            }
        }
        TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, factory.getTrustManagers(), null);
        HttpsURLConnection connection = (HttpsURLConnection) new URL(args[0]).openConnection();
        connection.setSSLSocketFactory(context.getSocketFactory());
        try {
            System.out.println(connection.getResponseCode());
        } catch (Exception error) {
            System.out.println("refused: " + error);
            System.exit(1);
        }
    }
}
