//! A real DNS server on loopback (hickory-server, UDP and TCP) serving an authoritative zone
//! `test.` whose TXT records tests publish and remove while the API looks them up.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};

pub const ZONE: &str = "test.";

pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
    serial: AtomicU32,
}

impl DnsServer {
    pub async fn start() -> DnsServer {
        let origin = Name::from_str(ZONE).expect("zone name");
        let zone = Arc::new(InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        ));
        let soa = SOA::new(
            Name::from_str("ns.test.").expect("ns"),
            Name::from_str("hostmaster.test.").expect("rname"),
            1,
            3600,
            600,
            86400,
            0,
        );
        assert!(zone.upsert(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1).await, "SOA");
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![zone.clone() as Arc<dyn ZoneHandler>]);
        // UDP and TCP on one port (the resolver falls back to TCP for truncated answers).
        let (udp, tcp, addr) = loop {
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind DNS UDP");
            let addr = udp.local_addr().expect("addr");
            if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
                break (udp, tcp, addr);
            }
        };
        let mut server = hickory_server::Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, std::time::Duration::from_secs(5), 4096);
        tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        DnsServer { addr, zone, serial: AtomicU32::new(2) }
    }

    /// Publish a TXT record of these strings at `name` (beside any already there).
    pub async fn add_txt(&self, name: &str, strings: &[&str]) {
        let name = Name::from_str(&format!("{}.", name.trim_end_matches('.'))).expect("record name");
        let txt = TXT::new(strings.iter().map(|s| (*s).to_owned()).collect());
        let serial = self.serial.fetch_add(1, Ordering::SeqCst);
        assert!(self.zone.upsert(Record::from_rdata(name, 0, RData::TXT(txt)), serial).await, "TXT upsert");
    }

    /// Remove every TXT record at `name`.
    pub async fn remove_txt(&self, name: &str) {
        let name = Name::from_str(&format!("{}.", name.trim_end_matches('.'))).expect("record name");
        let key = RrKey::new(LowerName::new(&name), RecordType::TXT);
        self.zone.records_mut().await.remove(&key);
    }
}
